"""The redaction filter's cost per log record, with 1,000 values known.

A store on the in-memory fake caches 1,000 random values (24 URL-safe bytes each); the filter
is installed on a handler that formats records and throws the text away. Printed, per kind of
record (a short line, a botocore-style request line with a JSON body, a 4 KiB response body,
each once without and once with a value in it):

* the median time to handle a record through the handler without the filter, and with it, and
  the difference: the filter's cost per record;
* the time to learn 1,000 values (what :func:`helium_secrets.redaction.install` does with
  full caches) and to add and drop one (a cache miss, an eviction);
* last, one JSON line with the figures.

Figures are printed, never asserted (``nox -s bench``). Run from the repository root:
``python benchmarks/bench_redaction.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import logging
import secrets
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helium_secrets import CachePolicy, SecretStore, redaction  # noqa: E402
from helium_secrets.backends.memory import MemoryBackend  # noqa: E402

VALUES = 1000


class Discard(logging.Handler):
    """Formats each record, as a real handler would, and drops the text."""

    def emit(self, record: logging.LogRecord) -> None:
        self.format(record)


def _medians_us(fns: Sequence[Callable[[], object]], samples: int,
                inner: int) -> list[float]:
    """The median, over ``samples`` loops of ``inner`` calls, of us per call of each of
    ``fns``, their loops taken in turn."""
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(samples):
        for fn, timed in zip(fns, times, strict=True):
            start = time.perf_counter_ns()
            for _ in range(inner):
                fn()
            timed.append((time.perf_counter_ns() - start) / inner)
    return [statistics.median(timed) / 1000 for timed in times]


def _logging(logger: logging.Logger, message: str,
             call_args: tuple[object, ...]) -> Callable[[], None]:
    return lambda: logger.debug(message, *call_args)


def _records(value: str) -> dict[str, tuple[str, tuple[object, ...]]]:
    body = json.dumps({"ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:app/db",
                       "Name": "app/db", "VersionId": "a1b2c3d4", "SecretString": "%s",
                       "VersionStages": ["AWSCURRENT"], "CreatedDate": 1.7e9})
    big = body * (4096 // len(body))
    return {
        "short": ("Response headers: %s", ({"x-amzn-requestid": "5f1e"},)),
        "request": ("Making request for %s with params: %r",
                    ("OperationModel(name=GetSecretValue)",
                     {"url_path": "/", "headers": {"X-Amz-Target": "GetSecretValue"},
                      "body": (body % value).encode()})),
        "body_4k": ("Response body:\n%r", ((big % ((value,) * big.count("%s"))).encode(),)),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    args = parser.parse_args(argv)
    samples, inner = (5, 50) if args.quick else (31, 400)

    store = SecretStore(MemoryBackend(), cache=CachePolicy(max_entries=VALUES * 2))
    values = [secrets.token_urlsafe(24) for _ in range(VALUES)]
    for i, value in enumerate(values):
        store.put(f"bench/{i}", value)
        store.get(f"bench/{i}")
    # Two loggers outside the hierarchy, one handler each; only the second one's is protected.
    # Their samples alternate, so that the machine's drift weighs on both alike.
    plain_logger, filtered_logger = (logging.Logger(f"bench.{n}") for n in ("plain", "filtered"))
    for logger in (plain_logger, filtered_logger):
        logger.addHandler(Discard())
        logger.setLevel(logging.DEBUG)

    figures: dict[str, float] = {}
    records = {**_records("not-a-secret"),
               **{f"{k}+value": v for k, v in _records(values[VALUES // 2]).items()}}
    start = time.perf_counter()
    redaction.install(filtered_logger)
    figures["learn_1000_ms"] = (time.perf_counter() - start) * 1000
    try:
        for name, (message, call_args) in records.items():
            plain, filtered = _medians_us(
                [_logging(lg, message, call_args) for lg in (plain_logger, filtered_logger)],
                samples, inner)
            figures[f"{name}_plain_us"] = plain
            figures[f"{name}_filtered_us"] = filtered
            figures[f"{name}_cost_us"] = filtered - plain
            print(f"{name:>16}: {plain:7.2f} us without the filter, {filtered:7.2f} us "
                  f"with it: {filtered - plain:+.2f} us per record")
        extra = secrets.token_urlsafe(24)

        def add_and_drop() -> None:
            redaction.redactor.add(extra)
            redaction.redactor.discard(extra)

        figures["add_drop_us"] = _medians_us([add_and_drop], samples, inner)[0]
        print(f"learn {VALUES} values: {figures['learn_1000_ms']:.1f} ms; add and drop one: "
              f"{figures['add_drop_us']:.1f} us")
    finally:
        redaction.uninstall(filtered_logger)
        store.close()
    print(json.dumps({"values": VALUES, **{k: round(v, 3) for k, v in figures.items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
