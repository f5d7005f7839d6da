"""The scan's throughput: MB/s of text searched with 1,000 values known.

A store on the in-memory fake holds 1,000 random values (24 URL-safe bytes each, so six forms
each: raw, base64 at three alignments, hex in both cases; the other encodings of such a value
are the same text); a tree of source-like
text files (lines of code, logs, base64 blobs) is written to a temporary directory, with a few
values planted in it. Printed:

* the time to build the matcher from the store (reading 1,000 values, building the automaton);
* MB/s of the search through :func:`helium_secrets.exposure.scan` over the files (read line by
  line from disk, as ``helium-secrets scan`` does), with 10, 1,000 and 10,000 values known: the
  cost grows with the text, not with the number of values;
* the same with ``--heuristics`` (detect-secrets' plugins, per line), for comparison, on a
  tree a twentieth the size;
* last, one JSON line with the figures.

Figures are printed, never asserted (``nox -s bench``). Run from the repository root:
``python benchmarks/bench_scan.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helium_secrets import SecretStore  # noqa: E402
from helium_secrets.backends.memory import MemoryBackend  # noqa: E402
from helium_secrets.exposure import Line, lines_of, matcher_from_store, scan  # noqa: E402

_LINES = [
    "    return self._client.get(name, version=version, timeout=self._timeout)",
    "2026-12-01T10:23:13.421Z INFO request_id=4f1c path=/api/v1/items status=200 ms=12",
    "def handle(request: Request) -> Response:  # the handler of the items endpoint",
    "    assert response.status_code == 200, response.text",
    "",
]


def _tree(root: Path, megabytes: float, planted: list[str]) -> int:
    """Write about ``megabytes`` of text files under ``root``; return their size in bytes."""
    rng = random.Random(7)
    size, index = 0, 0
    while size < megabytes * 1_000_000:
        lines = [rng.choice(_LINES) for _ in range(2000)]
        lines.append(base64.b64encode(rng.randbytes(600)).decode())
        if index < len(planted):
            lines.insert(rng.randrange(len(lines)), f"PASSWORD = '{planted[index]}'")
        path = root / f"d{index % 10}" / f"f{index}.py"
        path.parent.mkdir(exist_ok=True)
        data = "\n".join(lines) + "\n"
        path.write_text(data, encoding="utf-8")
        size += len(data)
        index += 1
    return size


def _lines(root: Path) -> Iterator[Line]:
    for directory, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            with open(os.path.join(directory, name), "rb") as f:
                yield from lines_of(name, f)


def _rate(root: Path, size: int, store: SecretStore, *, heuristics: bool = False) -> tuple[
        float, int, float]:
    start = time.perf_counter()
    with matcher_from_store(store) as matcher:
        list(matcher.find(""))  # the automaton is made on the first search
        built = time.perf_counter() - start
        start = time.perf_counter()
        found = sum(1 for _ in scan(_lines(root), matcher, heuristics=heuristics))
        elapsed = time.perf_counter() - start
    return size / elapsed / 1e6, found, built


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run on little text")
    args = parser.parse_args()
    megabytes = 0.2 if args.quick else 20.0
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for known in (10, 1000) if args.quick else (10, 1000, 10000):
            values = [secrets.token_urlsafe(24) for _ in range(known)]
            for old in root.iterdir():
                for f in old.iterdir():
                    f.unlink()
                old.rmdir()
            size = _tree(root, megabytes, values[:5])
            with SecretStore(MemoryBackend(), cache=None) as store:
                for i, value in enumerate(values):
                    store.put(f"app/s{i}", value)
                rate, found, built = _rate(root, size, store)
                figures[f"mb_per_s_{known}_values"] = round(rate, 1)
                figures[f"build_s_{known}_values"] = round(built, 3)
                print(f"{known:>6} values: matcher built in {built * 1000:7.1f} ms; "
                      f"{size / 1e6:5.1f} MB searched at {rate:6.1f} MB/s; {found} found")
                if known == 1000:  # detect-secrets is slow: on a smaller tree
                    small = root / "small"
                    small.mkdir()
                    small_size = _tree(small, megabytes / 20, values[:1])
                    heuristic_rate, _, _ = _rate(small, small_size, store, heuristics=True)
                    for f in small.rglob("*.py"):
                        f.unlink()
                    for d in sorted(small.rglob("*"), reverse=True):
                        d.rmdir()
                    small.rmdir()
                    figures["mb_per_s_1000_values_heuristics"] = round(heuristic_rate, 2)
                    print(f"{known:>6} values with --heuristics: {heuristic_rate:6.2f} MB/s")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
