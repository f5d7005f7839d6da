"""The async twin's figures against moto's server, through the real async AWS backend
(aiobotocore), next to the sync store's.

Printed, in this order:

* the median latency of a cache-hit ``await store.get`` on :class:`AsyncSecretStore` next to
  the sync store's hit on the same server, interleaved in one run (medians over timed batches);
* the backend calls made when 1,000 tasks cold-read one secret at once, counted by the
  loopback proxy in front of moto (what reaches the server): coalescing must make it one;
* the event loop while 1,000 tasks miss 1,000 different secrets: the longest stall and the
  99th percentile seen by a ticker task (it sleeps 1 ms and records how late it wakes: wall
  time, so it includes the OS running other work instead of this process), the longest and
  99th-percentile *turn* of the loop in CPU time (what the store, aiobotocore and aiohttp did
  in one go, which other processes do not inflate), and the pauses of Python's cyclic garbage
  collector in the window;
* whether ``import helium_secrets`` loads asyncio (it must not);
* last, one JSON line with the figures.

How the workload is shaped: an application's readers do not all start in one turn of the loop
(a server starts a handler per request as its socket turns readable), so the tasks are started
25 per turn (:func:`_arrive`): all 1,000 are in flight together (moto takes milliseconds to
answer the first), but the benchmark does not itself run 1,000 task starts in one turn. The full
run also prints the figures for 1,000 tasks started by one ``asyncio.gather`` call (the store
then starts their reads a few per turn), and for the same misses after
``gc.freeze()`` (the start-up objects out of the collector's way, as servers do after import),
and for the same misses through the proxy, which keeps connections open as AWS does (moto's
server closes each one after its answer, so every call there also connects).

moto's server runs in a child process (:mod:`benchmarks._motochild`): its request handlers
are Python threads, and in this process they would hold the GIL while the loop is measured.

DESIGN.md's targets: an async hit at most 2x a sync one; one call for 1,000 cold readers; no
stall longer than 10 ms. Figures are printed, never asserted: the exit status is 0 whatever they
are (``nox -s bench``; ``--quick`` for the smoke run, 100 tasks instead of 1,000).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402

from benchmarks._motochild import MotoChild  # noqa: E402
from helium_secrets import AsyncSecretStore, CachePolicy, SecretStore  # noqa: E402
from helium_secrets.backends.awssecretsmanager import AWSSecretsManagerBackend  # noqa: E402
from helium_secrets.backends.awssecretsmanager.aio import (  # noqa: E402
    AsyncAWSSecretsManagerBackend,
)

HOT = "bench/hot"
WARM = "bench/warm"
PER_TURN = 25  # tasks an arriving workload starts per turn of the loop
TARGETS = {"async_hit_ratio": 2.0, "cold_calls": 1, "max_stall_ms": 10.0}


def _names(count: int) -> list[str]:
    return [f"bench/miss/{i:04d}" for i in range(count)]


def seed(server: MotoChild, count: int) -> None:
    client = boto3.client("secretsmanager", endpoint_url=server.moto_url,
                          region_name="us-east-1", aws_access_key_id="testing",
                          aws_secret_access_key="testing")
    for name in (HOT, WARM, *_names(count)):
        client.create_secret(Name=name, SecretString=f"v-{name}")
    client.close()


def _async_store(server: MotoChild, *, proxy: bool) -> AsyncSecretStore:
    url = server.endpoint_url if proxy else server.moto_url
    backend = AsyncAWSSecretsManagerBackend(session=server.aio_session(), endpoint_url=url)
    return AsyncSecretStore(backend, cache=CachePolicy(ttl=300, refresh_ahead=0))


# -- the loop's health ---------------------------------------------------------------------------


class _Loop(asyncio.SelectorEventLoop):
    """An event loop that records the CPU time of each of its turns while :attr:`timing`
    (``_run_once`` is asyncio's one turn: the ready callbacks, then the next select)."""

    timing = False
    turns: list[float]

    def _run_once(self) -> None:
        if not self.timing:
            super()._run_once()  # type: ignore[misc]
            return
        started = time.thread_time()
        super()._run_once()  # type: ignore[misc]
        self.turns.append(time.thread_time() - started)


class Watch:
    """The ticker's lags, the loop's turns and the collector's pauses over one window."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.gc_pauses: list[tuple[int, float]] = []
        self._gc_started = 0.0
        self._stop = asyncio.Event()
        self._ticker: asyncio.Task[None] | None = None

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
        else:
            self.gc_pauses.append((info["generation"], time.perf_counter() - self._gc_started))

    async def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        while not self._stop.is_set():
            before = loop.time()
            await asyncio.sleep(0.001)
            self.lags.append(loop.time() - before - 0.001)

    async def __aenter__(self) -> Watch:
        loop = asyncio.get_running_loop()
        self._ticker = loop.create_task(self._tick())
        await asyncio.sleep(0.01)
        self.lags.clear()
        if isinstance(loop, _Loop):
            loop.turns = []
            loop.timing = True
        gc.callbacks.append(self._on_gc)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        loop = asyncio.get_running_loop()
        gc.callbacks.remove(self._on_gc)
        if isinstance(loop, _Loop):
            loop.timing = False
        self._stop.set()
        assert self._ticker is not None
        await self._ticker

    def figures(self) -> dict[str, float]:
        loop = asyncio.get_running_loop()
        turns = sorted(loop.turns) if isinstance(loop, _Loop) else [0.0]
        lags = sorted(self.lags) or [0.0]
        full = [pause for generation, pause in self.gc_pauses if generation == 2]
        return {
            "max_stall_ms": lags[-1] * 1000,
            "p99_stall_ms": lags[int(len(lags) * 0.99)] * 1000,
            "max_turn_cpu_ms": turns[-1] * 1000,
            "p99_turn_cpu_ms": turns[int(len(turns) * 0.99)] * 1000,
            "gc_full_collections": len(full),
            "gc_longest_pause_ms": max((p for _, p in self.gc_pauses), default=0.0) * 1000,
        }


def run_on_timed_loop(main: Callable[[], Awaitable[Any]]) -> Any:
    with asyncio.Runner(loop_factory=_Loop) as runner:
        return runner.run(main())


async def _arrive(read: Callable[[str], Awaitable[Any]], names: Sequence[str], *,
                  burst: bool) -> None:
    """``read(name)`` for each name, every one in flight at once: started ``PER_TURN`` per
    turn of the loop as an application's requests arrive (``burst``: all by one ``gather``)."""
    if burst:
        await asyncio.gather(*(read(name) for name in names))
        return
    tasks = []
    for i, name in enumerate(names, 1):
        tasks.append(asyncio.ensure_future(read(name)))
        if i % PER_TURN == 0:
            await asyncio.sleep(0)
    await asyncio.gather(*tasks)


# -- the measurements ----------------------------------------------------------------------------


def measure_hits(server: MotoChild, samples: int, inner: int) -> dict[str, float]:
    """Median ns per cache hit, sync and async, interleaved batches in one run."""

    async def run() -> dict[str, float]:
        sync_store = SecretStore(AWSSecretsManagerBackend(
            session=boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                  region_name="us-east-1"),
            endpoint_url=server.moto_url), cache=CachePolicy(ttl=300, refresh_ahead=0))
        twin = _async_store(server, proxy=False)
        sync_store.get(HOT)
        await twin.get(HOT)
        sync: list[float] = []
        asynchronous: list[float] = []
        for i in range(samples):
            for which in ((0, 1) if i % 2 else (1, 0)):
                started = time.perf_counter_ns()
                if which == 0:
                    for _ in range(inner):
                        sync_store.get(HOT)
                    sync.append((time.perf_counter_ns() - started) / inner)
                else:
                    for _ in range(inner):
                        await twin.get(HOT)
                    asynchronous.append((time.perf_counter_ns() - started) / inner)
        sync_store.close()
        await twin.aclose()
        sync_ns, async_ns = statistics.median(sync), statistics.median(asynchronous)
        return {"sync_hit_ns": sync_ns, "async_hit_ns": async_ns, "ratio": async_ns / sync_ns}

    result: dict[str, float] = asyncio.run(run())
    return result


def measure_cold(server: MotoChild, readers: int) -> dict[str, Any]:
    """``readers`` tasks cold-read one secret: requests at the proxy, and the loop."""

    async def run() -> dict[str, Any]:
        store = _async_store(server, proxy=True)
        await store.get(WARM)  # the client (and its connection) made outside the window
        server.reset()
        async with Watch() as watch:
            await _arrive(store.get, [HOT] * readers, burst=False)
        requests = server.count()
        await store.aclose()
        return {"requests": requests, **watch.figures()}

    result: dict[str, Any] = run_on_timed_loop(run)
    return result


def measure_misses(server: MotoChild, names: Sequence[str], *, burst: bool = False,
                   freeze: bool = False, keep_alive: bool = False) -> dict[str, Any]:
    """One task per name, each a cache miss, all in flight together: straight to moto, which
    closes each connection after its answer, or (``keep_alive``) through the proxy, which
    keeps them open as AWS does (no TCP connect per call on the loop)."""

    async def run() -> dict[str, Any]:
        store = _async_store(server, proxy=keep_alive)
        await store.get(WARM)
        gc.collect()
        if freeze:
            gc.freeze()
        started = time.perf_counter()
        async with Watch() as watch:
            await _arrive(store.get, names, burst=burst)
        took = time.perf_counter() - started
        calls = (await store.stats()).backend_calls - 1
        await store.aclose()
        if freeze:
            gc.unfreeze()
        return {"calls": calls, "seconds": took, **watch.figures()}

    result: dict[str, Any] = run_on_timed_loop(run)
    return result


def measure_import() -> bool:
    code = "import sys, helium_secrets; print('asyncio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True)
    return out.stdout.strip() == "True"


def _loop_line(label: str, f: dict[str, Any]) -> str:
    return (f"{label}: {f['calls']} backend calls in {f['seconds']:.2f} s; loop stall max "
            f"{f['max_stall_ms']:.1f} ms, p99 {f['p99_stall_ms']:.1f} ms; loop turn CPU max "
            f"{f['max_turn_cpu_ms']:.1f} ms, p99 {f['p99_turn_cpu_ms']:.1f} ms; "
            f"{f['gc_full_collections']} full GC, longest GC pause "
            f"{f['gc_longest_pause_ms']:.1f} ms")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true",
                        help="100 tasks and fewer samples (a smoke run)")
    args = parser.parse_args(argv)
    readers = 100 if args.quick else 1000
    samples, inner = (20, 200) if args.quick else (200, 1000)
    names = _names(readers)
    with MotoChild() as server:
        seed(server, readers)
        hits = measure_hits(server, samples, inner)
        cold = measure_cold(server, readers)
        misses = measure_misses(server, names)
        extra: dict[str, dict[str, Any]] = {}
        if not args.quick:  # each run is a fresh store: the same names are misses again
            for key, kwargs in (("burst", {"burst": True}), ("frozen", {"freeze": True}),
                                ("keep_alive", {"keep_alive": True})):
                extra[key] = measure_misses(server, names, **kwargs)
    imports_asyncio = measure_import()
    print(f"cache-hit get on moto, median ns: sync {hits['sync_hit_ns']:.1f}, "
          f"async {hits['async_hit_ns']:.1f} ({hits['ratio']:.2f}x)")
    print(f"{readers} tasks cold-reading one secret: {cold['requests']} request(s) at the "
          f"server; loop stall max {cold['max_stall_ms']:.1f} ms")
    print(_loop_line(f"{readers} tasks missing {readers} secrets ({PER_TURN} started per turn)",
                     misses))
    labels = {"burst": "the same, all started by one gather",
              "frozen": f"the same, {PER_TURN} per turn, after gc.freeze()",
              "keep_alive": f"the same, {PER_TURN} per turn, connections kept open (as AWS)"}
    for key, figures in extra.items():
        print(_loop_line(labels[key], figures))
    print(f"import helium_secrets loads asyncio: {imports_asyncio}")
    stall = misses["max_stall_ms"]
    for check, ok in [
        (f"async hit <= {TARGETS['async_hit_ratio']}x sync",
         hits["ratio"] <= TARGETS["async_hit_ratio"]),
        (f"one request for {readers} cold readers", cold["requests"] == TARGETS["cold_calls"]),
        (f"loop stall <= {TARGETS['max_stall_ms']} ms (wall, on this machine)",
         stall <= TARGETS["max_stall_ms"]),
        ("no asyncio at import", not imports_asyncio),
    ]:
        print(f"[{'ok' if ok else 'MISSED'}] {check}")
    figures = {**hits, "readers": readers, "cold_requests": cold["requests"],
               "cold_max_stall_ms": cold["max_stall_ms"], "misses": misses, **extra,
               "import_loads_asyncio": imports_asyncio}
    print(json.dumps(figures, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
