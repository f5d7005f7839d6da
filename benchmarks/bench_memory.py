"""The memory a cached secret costs: bytes of overhead per secret at 1,000, 10,000 and 100,000.

The in-memory backend holds the secrets before measuring starts (and has been read once, so its
own bookkeeping is in place); then ``tracemalloc`` measures what the store's cache takes to hold
all of them: the cache entry, the ``Secret`` and ``SecretValue`` objects, the metadata mapping,
the dict slot. The value's own bytes are not counted: the cache holds the very string the
backend returned, so they are the application's data, not overhead.

DESIGN.md's target: at most 1 KiB per cached secret at 100,000 secrets. Printed, never asserted;
the last line is one JSON object with the figures.

Run from the repository root: ``python benchmarks/bench_memory.py`` (``--quick``: 1,000 and
10,000 only).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from helium_secrets import CachePolicy, SecretStore  # noqa: E402
from helium_secrets.backends.memory import MemoryBackend  # noqa: E402

TARGET_BYTES = 1024


def overhead_per_secret(count: int) -> float:
    """Bytes the store's cache takes per secret to hold ``count`` secrets."""
    backend = MemoryBackend()
    names = [f"app/service-{i:06d}/password" for i in range(count)]
    for name in names:
        backend.put(name, f"value of {name}")
        backend.get(name)  # the backend's own per-read bookkeeping, before measuring
    store = SecretStore(backend, cache=CachePolicy(ttl=3600, refresh_ahead=0,
                                                   max_entries=count))
    store.get(names[0])  # the store's one-off structures, before measuring
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for name in names:
        store.get(name)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    assert store.stats().cached == count, "every secret must be cached"
    store.close()
    return (after - before) / count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="1,000 and 10,000 secrets only")
    args = parser.parse_args(argv)
    counts = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    figures = {str(count): round(overhead_per_secret(count), 1) for count in counts}
    for count, per_secret in figures.items():
        print(f"{int(count):>7,} cached secrets: {per_secret:,.0f} bytes of overhead each")
    largest = figures[str(counts[-1])]
    print(f"[{'ok' if largest <= TARGET_BYTES else 'MISSED'}] at most 1 KiB per cached secret "
          f"at {counts[-1]:,}")
    print(json.dumps({"bytes_per_cached_secret": figures}, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
