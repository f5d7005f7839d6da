"""The async twin's figures, on the in-memory fake: no network, no SDK.

Printed, in this order:

* the median latency of a cache-hit ``await store.get`` on :class:`AsyncSecretStore` next to
  the sync store's hit, measured in the same run (medians over timed batches);
* the backend calls made when 1,000 tasks cold-read one secret at once (the fake answers after
  a latency, in a worker thread, so that the reads overlap): coalescing must make it one;
* the event loop's longest stall while 1,000 tasks miss 1,000 different secrets at once
  (measured by a ticker task that sleeps 1 ms and records how late it wakes);
* whether ``import helium_secrets`` loads asyncio (it must not);
* last, one JSON line with the figures.

DESIGN.md's targets: an async hit at most 2x a sync one; one call for 1,000 cold readers; no
stall longer than 10 ms. Figures are printed, never asserted: the exit status is 0 whatever they
are (``nox -s bench``; ``--quick`` for the smoke run).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from helium_secrets import AsyncSecretStore, SecretStore  # noqa: E402
from helium_secrets.backends.aio import AsyncMemoryBackend  # noqa: E402
from helium_secrets.backends.memory import MemoryBackend  # noqa: E402

HOT = "bench/hot"
READERS = 1000
LATENCY = 0.05  # seconds per backend call, in a worker thread: the reads pile up behind it
TARGETS = {"async_hit_ratio": 2.0, "cold_calls": 1, "max_stall_ms": 10.0}


def _fake() -> MemoryBackend:
    fake = MemoryBackend()
    fake.write_external(HOT, "hunter2")
    return fake


def measure_hits(samples: int, inner: int) -> dict[str, float]:
    """Median ns per cache hit, sync and async, in one run."""
    store = SecretStore(_fake())
    store.get(HOT)
    sync: list[float] = []
    for _ in range(samples):
        started = time.perf_counter_ns()
        for _ in range(inner):
            store.get(HOT)
        sync.append((time.perf_counter_ns() - started) / inner)
    store.close()

    async def run() -> list[float]:
        twin = AsyncSecretStore(AsyncMemoryBackend.wrap(_fake()))
        await twin.get(HOT)
        times: list[float] = []
        for _ in range(samples):
            started = time.perf_counter_ns()
            for _ in range(inner):
                await twin.get(HOT)
            times.append((time.perf_counter_ns() - started) / inner)
        await twin.aclose()
        return times

    asynchronous = asyncio.run(run())
    sync_ns, async_ns = statistics.median(sync), statistics.median(asynchronous)
    return {"sync_hit_ns": sync_ns, "async_hit_ns": async_ns, "ratio": async_ns / sync_ns}


async def _ticker(lags: list[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(0.001)
        lags.append(loop.time() - before - 0.001)


def measure_cold() -> dict[str, Any]:
    """1,000 tasks cold-read one secret: backend calls, and the loop's longest stall."""

    async def run() -> dict[str, Any]:
        fake = _fake()
        fake.set_latency(LATENCY)  # the fake's latency: its calls go to a worker thread
        twin = AsyncSecretStore(AsyncMemoryBackend.wrap(fake))
        lags: list[float] = []
        stop = asyncio.Event()
        ticker = asyncio.ensure_future(_ticker(lags, stop))
        await asyncio.sleep(0.01)
        await asyncio.gather(*(twin.get(HOT) for _ in range(READERS)))
        stop.set()
        await ticker
        await twin.aclose()
        return {"calls": fake.calls["get"], "max_stall_ms": max(lags) * 1000}

    return asyncio.run(run())


def measure_misses() -> dict[str, Any]:
    """1,000 tasks each miss a different secret at once: the loop's longest stall."""

    async def run() -> dict[str, Any]:
        fake = MemoryBackend()
        for i in range(READERS):
            fake.write_external(f"bench/s{i}", "value")
        fake.set_latency(0.001)
        twin = AsyncSecretStore(AsyncMemoryBackend.wrap(fake))
        lags: list[float] = []
        stop = asyncio.Event()
        ticker = asyncio.ensure_future(_ticker(lags, stop))
        await asyncio.sleep(0.01)
        started = time.perf_counter()
        await asyncio.gather(*(twin.get(f"bench/s{i}") for i in range(READERS)))
        took = time.perf_counter() - started
        stop.set()
        await ticker
        await twin.aclose()
        return {"calls": fake.calls["get"], "max_stall_ms": max(lags) * 1000,
                "p99_stall_ms": sorted(lags)[int(len(lags) * 0.99)] * 1000, "seconds": took}

    return asyncio.run(run())


def measure_import() -> bool:
    code = "import sys, helium_secrets; print('asyncio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    return out.stdout.strip() == "True"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    args = parser.parse_args(argv)
    samples, inner = (30, 200) if args.quick else (300, 1000)
    hits = measure_hits(samples, inner)
    cold = measure_cold()
    misses = measure_misses()
    imports_asyncio = measure_import()
    print(f"cache-hit get, median ns: sync {hits['sync_hit_ns']:.1f}, "
          f"async {hits['async_hit_ns']:.1f} ({hits['ratio']:.2f}x)")
    print(f"{READERS} tasks cold-reading one secret ({LATENCY * 1000:.0f} ms latency): "
          f"{cold['calls']} backend call(s); longest loop stall {cold['max_stall_ms']:.1f} ms")
    print(f"{READERS} tasks missing {READERS} secrets at once: {misses['calls']} calls in "
          f"{misses['seconds']:.2f} s; longest loop stall {misses['max_stall_ms']:.1f} ms "
          f"(p99 {misses['p99_stall_ms']:.1f} ms)")
    print(f"import helium_secrets loads asyncio: {imports_asyncio}")
    stall = max(cold["max_stall_ms"], misses["max_stall_ms"])
    for check, ok in [
        (f"async hit <= {TARGETS['async_hit_ratio']}x sync", hits["ratio"] <= TARGETS["async_hit_ratio"]),
        ("one call for 1,000 cold readers", cold["calls"] == TARGETS["cold_calls"]),
        (f"loop stall <= {TARGETS['max_stall_ms']} ms", stall <= TARGETS["max_stall_ms"]),
        ("no asyncio at import", not imports_asyncio),
    ]:
        print(f"[{'ok' if ok else 'MISSED'}] {check}")
    figures = {**hits, "cold_calls": cold["calls"], "cold_max_stall_ms": cold["max_stall_ms"],
               "miss_max_stall_ms": misses["max_stall_ms"], "import_loads_asyncio": imports_asyncio}
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
