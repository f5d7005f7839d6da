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


def _median_us(fn: Callable[[], object], samples: int, inner: int) -> float:
    times = []
    for _ in range(samples):
        start = time.perf_counter_ns()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter_ns() - start) / inner)
    return statistics.median(times) / 1000


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
    handler = Discard()
    logger = logging.Logger("bench.redaction")  # not in the hierarchy: only our handler
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)

    figures: dict[str, float] = {}
    records = {**_records("not-a-secret"),
               **{f"{k}+value": v for k, v in _records(values[VALUES // 2]).items()}}
    def logging_of(message: str, call_args: tuple[object, ...]) -> Callable[[], None]:
        return lambda: logger.debug(message, *call_args)

    plain = {name: _median_us(logging_of(*record), samples, inner)
             for name, record in records.items()}
    start = time.perf_counter()
    redaction.install(logger)
    figures["learn_1000_ms"] = (time.perf_counter() - start) * 1000
    try:
        for name, record in records.items():
            filtered = _median_us(logging_of(*record), samples, inner)
            figures[f"{name}_plain_us"] = plain[name]
            figures[f"{name}_filtered_us"] = filtered
            figures[f"{name}_cost_us"] = filtered - plain[name]
            print(f"{name:>16}: {plain[name]:7.2f} us without the filter, {filtered:7.2f} us "
                  f"with it: +{filtered - plain[name]:.2f} us per record")
        extra = secrets.token_urlsafe(24)

        def add_and_drop() -> None:
            redaction.redactor.add(extra)
            redaction.redactor.discard(extra)

        figures["add_drop_us"] = _median_us(add_and_drop, samples, inner)
        print(f"learn {VALUES} values: {figures['learn_1000_ms']:.1f} ms; add and drop one: "
              f"{figures['add_drop_us']:.1f} us")
    finally:
        redaction.uninstall(logger)
        store.close()
    print(json.dumps({"values": VALUES, **{k: round(v, 3) for k, v in figures.items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
