"""The async twin's own guarantees: one task per cold key, cancellation, async callbacks, tasks
that end with the store, and no blocking of the loop. (Every conformance case runs on the twin
too: tests/backends/test_memory.py, test_localfile.py, test_environ.py.)"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pytest

from helium_secrets import (
    AsyncSecretStore,
    PollPolicy,
    RetryPolicy,
    Secret,
    SecretStore,
    open_async_store,
)
from helium_secrets.backends.aio import AsyncMemoryBackend, DirectBackend, ThreadedBackend
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import (
    SecretNotFoundError,
    StoreClosedError,
    ThrottledError,
    UnavailableError,
)
from helium_secrets.testing import BackendHarness, ManualClock

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


def others() -> set[asyncio.Task[Any]]:
    """The tasks running beside the test's own."""
    return asyncio.all_tasks() - {asyncio.current_task()}


class GatedBackend(DirectBackend):
    """A fake whose reads wait for :attr:`gate` (so that every caller is waiting first)."""

    def __init__(self, backend: MemoryBackend) -> None:
        super().__init__(backend)
        self.gate = asyncio.Event()
        self.waiting = 0

    async def get(self, name: str, version: str | None = None,
                  label: str | None = None) -> Any:
        self.waiting += 1
        await self.gate.wait()
        return await super().get(name, version, label)


def gated() -> tuple[MemoryBackend, GatedBackend]:
    fake = MemoryBackend()
    fake.write_external("app/db", "hunter2")
    return fake, GatedBackend.wrap(fake)


async def settle() -> None:
    # Let every task run up to its first wait: the store starts reads and fetches a few per
    # turn of the loop (STARTS_PER_TURN), so 1,000 readers take a few dozen turns.
    for _ in range(200):
        await asyncio.sleep(0)


def test_a_thousand_concurrent_cold_reads_make_one_backend_call() -> None:
    async def main() -> None:
        fake, backend = gated()
        async with AsyncSecretStore(backend) as store:
            readers = [asyncio.ensure_future(store.get("app/db")) for _ in range(1000)]
            await settle()
            backend.gate.set()
            secrets = await asyncio.gather(*readers)
            assert {s.value.reveal() for s in secrets} == {"hunter2"}
            assert fake.calls["get"] == 1
            stats = await store.stats()
            assert (stats.misses, stats.coalesced) == (1, 999)

    run(main())


def test_a_thousand_concurrent_misses_start_a_few_reads_per_turn_of_the_loop() -> None:
    """1,000 readers of 1,000 names started in one turn do not run their checks and fetches
    in one turn (~10 ms of CPU, every other task waiting): the store starts them
    STARTS_PER_TURN a turn (twice that in a turn holding the budget's renewal)."""
    from helium_secrets._async._synchronization import STARTS_PER_TURN

    async def main() -> list[int]:
        fake = MemoryBackend()
        names = [f"app/s{i}" for i in range(1000)]
        for name in names:
            fake.write_external(name, "hunter2")
        loop = asyncio.get_running_loop()
        seen: list[int] = []
        handle: list[asyncio.Handle] = []

        def tick() -> None:  # once per turn: the backend reads made so far
            seen.append(fake.calls["get"])
            handle[:] = [loop.call_soon(tick)]

        async with AsyncSecretStore(AsyncMemoryBackend.wrap(fake)) as store:
            handle.append(loop.call_soon(tick))
            secrets = await asyncio.gather(*(store.get(name) for name in names))
            handle[0].cancel()
            assert {s.value.reveal() for s in secrets} == {"hunter2"}
        assert fake.calls["get"] == 1000
        return [after - before for before, after in itertools.pairwise(seen)]

    per_turn = run(main())
    assert max(per_turn) <= 2 * STARTS_PER_TURN, max(per_turn)


def test_a_cancelled_reader_does_not_cancel_the_fetch_the_others_wait_on() -> None:
    async def main() -> None:
        fake, backend = gated()
        async with AsyncSecretStore(backend) as store:
            first = asyncio.ensure_future(store.get("app/db"))  # it started the fetch
            await settle()
            second = asyncio.ensure_future(store.get("app/db"))
            await settle()
            first.cancel()
            await settle()
            backend.gate.set()
            assert (await second).value.reveal() == "hunter2"
            assert first.cancelled()
            assert fake.calls["get"] == 1
            assert (await store.get("app/db")).value.reveal() == "hunter2"  # cached: no call
            assert fake.calls["get"] == 1

    run(main())


def test_a_failed_fetch_reaches_every_waiter_as_its_own_error() -> None:
    async def main() -> None:
        async with AsyncSecretStore(AsyncMemoryBackend.wrap(MemoryBackend())) as store:
            results = await asyncio.gather(*(store.get("nope") for _ in range(10)),
                                           return_exceptions=True)
            assert all(isinstance(r, SecretNotFoundError) for r in results)
            assert len({id(r) for r in results}) == 10  # no traceback shared across tasks

    run(main())


def test_rotation_callbacks_may_be_coroutine_functions_or_plain_ones() -> None:
    async def main() -> None:
        async with AsyncSecretStore(AsyncMemoryBackend.wrap(MemoryBackend())) as store:
            await store.put("app/db", "one")
            seen: list[tuple[str | None, str]] = []

            async def on_change(old: Secret | None, new: Secret) -> None:
                await asyncio.sleep(0)
                seen.append((old.value.reveal() if old else None, new.value.reveal()))

            plain: list[str] = []
            await store.on_rotation("app/db", on_change)
            await store.on_rotation("app/db", lambda old, new: plain.append(new.value.reveal()))
            await store.put("app/db", "two")
            await store.rotate("app/db", lambda: "three")
            assert seen == [("one", "two"), ("two", "three")]
            assert plain == ["two", "three"]

    run(main())


def test_the_poller_is_a_task_and_aclose_leaves_no_task_or_thread() -> None:
    threads_before = set(threading.enumerate())

    async def main() -> None:
        fake = MemoryBackend()
        fake.write_external("app/db", "one")
        store = AsyncSecretStore(AsyncMemoryBackend.wrap(fake), poll=PollPolicy(interval=0.01))
        changed = asyncio.Event()
        await store.on_rotation("app/db", lambda old, new: changed.set())
        fake.write_external("app/db", "two")  # a rotation elsewhere: the poller notices it
        await asyncio.wait_for(changed.wait(), 60)
        assert any("rotation-poller" in t.get_name() for t in asyncio.all_tasks())
        await store.aclose()
        assert not others()
        with pytest.raises(StoreClosedError):
            await store.get("app/db")

    run(main())
    assert set(threading.enumerate()) <= threads_before


def test_a_refresh_ahead_runs_as_a_task_and_ends_with_the_store() -> None:
    from helium_secrets import CachePolicy
    from helium_secrets.testing import ManualClock

    async def main() -> None:
        fake, backend = gated()
        clock = ManualClock()
        store = AsyncSecretStore(backend, clock=clock,
                                 cache=CachePolicy(ttl=10, refresh_ahead=0.5))
        backend.gate.set()
        await store.get("app/db")
        backend.gate.clear()
        clock.advance(9.9)  # in the refresh-ahead window: the cached value, refreshed behind
        assert (await store.get("app/db")).value.reveal() == "hunter2"
        await settle()
        assert backend.waiting == 2  # the refresh, in a task of the store's
        assert {task.get_name() for task in others()} == {"helium-refresh[memory]"}
        backend.gate.set()
        await store.aclose()
        assert not others()
        assert fake.calls["get"] == 2

    run(main())


def test_a_sync_backend_without_an_async_class_runs_in_worker_threads() -> None:
    where: list[threading.Thread] = []

    class Recording(MemoryBackend):
        def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
            where.append(threading.current_thread())
            return super().get(name, version, label)

    async def main() -> None:
        fake = Recording()
        fake.write_external("app/db", "hunter2")
        async with AsyncSecretStore(ThreadedBackend.wrap(fake)) as store:
            assert (await store.get("app/db")).value.reveal() == "hunter2"
            assert where and where[0] is not threading.current_thread()

    run(main())


def test_extras_are_awaited_through_the_pipeline() -> None:
    async def main() -> None:
        fake = MemoryBackend()
        async with AsyncSecretStore(AsyncMemoryBackend.wrap(fake)) as store:
            await store.put("app/db", "one")
            assert dir(store.extras) == dir(SecretStore(fake).extras)
            await store.aclose()
            with pytest.raises(StoreClosedError):
                await store.put("app/db", "two")

    run(main())


def test_open_async_store_takes_the_same_urls_options_and_default(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIUM_SECRETS_URL", "mem://")

    async def main() -> None:
        async with open_async_store() as store:
            assert isinstance(store.backend, AsyncMemoryBackend)
            await store.put("app/db", "one")
            assert [name async for name in store.list("app/")] == ["app/db"]
        with pytest.raises(ValueError, match="did you mean"):
            open_async_store("memory://")
        with pytest.raises(TypeError):
            open_async_store("mem://", no_such_option=1)
        store = open_async_store("env://?prefix=APP_")
        assert type(store.backend).__name__.startswith("AsyncEnvironBackend")
        await store.aclose()

    run(main())


def test_a_failure_reaches_the_async_caller_as_the_sync_one_gets_it() -> None:
    async def main() -> None:
        fake = MemoryBackend()
        fake.write_external("app/db", "one")
        fake.fail_next(10, UnavailableError)
        from helium_secrets import RetryPolicy

        quick = RetryPolicy(max_attempts=3, initial_backoff=0, max_backoff=0)
        async with AsyncSecretStore(AsyncMemoryBackend.wrap(fake), retry=quick) as store:
            with pytest.raises(UnavailableError):
                await store.get("app/db")
            assert (await store.stats()).retries == 2

    run(main())


def test_the_watchdog_catches_a_call_that_blocks_the_loop() -> None:
    class Blocking(BackendHarness):
        def __init__(self) -> None:
            super().__init__()
            self.twin = "async"
            self.fake = MemoryBackend()
            self.fake.set_latency(1.5)  # a blocking sleep in every call

        def make_backend(self) -> MemoryBackend:
            return self.fake

        def make_async_backend(self) -> DirectBackend:
            return DirectBackend.wrap(self.fake)  # wrongly: on the loop

    harness = Blocking()
    harness.make_store().put("app/db", "one")
    with pytest.raises(AssertionError, match="blocked"):
        harness.close()


def test_importing_the_package_imports_no_asyncio() -> None:
    code = "import sys, helium_secrets; print('asyncio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.getcwd()}, check=True)
    assert out.stdout.strip() == "False"


def test_the_hit_path_awaits_nothing() -> None:
    calls: list[Callable[..., Any]] = []

    async def main() -> None:
        async with AsyncSecretStore(AsyncMemoryBackend.wrap(MemoryBackend())) as store:
            await store.put("app/db", "one")
            await store.get("app/db")
            started = time.perf_counter()
            coroutine = store.get("app/db")
            try:
                coroutine.send(None)
            except StopIteration as done:  # finished without suspending: a plain hit
                calls.append(done.value)
            assert time.perf_counter() - started >= 0

    run(main())
    assert len(calls) == 1


def test_an_async_backend_may_classify_in_a_coroutine() -> None:
    from helium_secrets.backends._base import Classified
    from helium_secrets.errors import ErrorCode, PermissionDeniedError

    class AsyncClassify(AsyncMemoryBackend):
        async def classify(self, exc: BaseException) -> Classified | None:  # type: ignore[override]
            await asyncio.sleep(0)
            return self.sync.classify(exc)

    async def main() -> None:
        fake = MemoryBackend()
        fake.write_external("app/db", "one")
        fake.fail_next(1, Classified(ErrorCode.PERMISSION_DENIED, "denied"))
        # Tolerated, though the protocol has a plain classify (it does no I/O).
        async with AsyncSecretStore(AsyncClassify.wrap(fake)) as store:  # type: ignore[arg-type]
            with pytest.raises(PermissionDeniedError, match="denied"):
                await store.get("app/db")

    run(main())


def test_readers_that_stop_waiting_leave_the_fetch_to_the_others() -> None:
    from helium_secrets import CachePolicy
    from helium_secrets.testing import ManualClock

    async def main() -> None:
        fake, backend = gated()
        clock = ManualClock()
        policy = CachePolicy(ttl=10, refresh_ahead=0, stale_if_error=60, stale_wait=0.01)
        async with AsyncSecretStore(backend, clock=clock, cache=policy) as store:
            backend.gate.set()
            await store.get("app/db")
            backend.gate.clear()
            fake.write_external("app/db", "rotated")
            clock.advance(11)  # expired: the next reader waits the stale wait at most
            assert (await store.get("app/db")).value.reveal() == "hunter2", "the stale value"
            cancelled = asyncio.ensure_future(store.refresh("app/db"))  # both join that fetch
            follower = asyncio.ensure_future(store.refresh("app/db"))
            await settle()
            cancelled.cancel()
            await settle()
            assert backend.waiting == 2, "one fetch in flight for all three readers"
            backend.gate.set()
            assert (await follower).value.reveal() == "rotated"
            assert cancelled.cancelled()
            assert (await store.get("app/db")).value.reveal() == "rotated"  # cached: no call
            assert fake.calls["get"] == 2
            stats = await store.stats()
            assert (stats.stale_served, stats.coalesced) == (1, 2)

    run(main())


def test_an_uncontended_miss_wakes_its_caller_two_turns_of_the_loop_after_the_call() -> None:
    """The fetch runs as a task of its own, so that a cancelled caller does not cancel it for
    the others: one turn for the task to run, one for its answer to wake the caller. Waiting
    through ``asyncio.shield`` (and ``wait_for`` for the stale wait) cost two more per miss."""
    from helium_secrets import CachePolicy

    async def turns(read: Callable[[], Coroutine[Any, Any, Secret]]) -> int:
        loop = asyncio.get_running_loop()
        count, running = [0], [True]

        def tick() -> None:  # once per turn of the loop, while the read runs
            if running[0]:
                count[0] += 1
                loop.call_soon(tick)

        loop.call_soon(tick)
        secret = await read()
        running[0] = False
        assert secret.value.reveal() == "hunter2"
        return count[0]

    async def main() -> None:
        fake = MemoryBackend()
        fake.write_external("app/db", "hunter2")
        uncached = AsyncSecretStore(AsyncMemoryBackend.wrap(fake), cache=None)
        cached = AsyncSecretStore(AsyncMemoryBackend.wrap(fake), cache=CachePolicy(ttl=60))
        async with uncached, cached:
            await cached.get("app/db")
            assert await turns(lambda: uncached.get("app/db")) == 2
            # A per-call ttl with a cached value: the read waits (with a timer) for the answer.
            assert await turns(lambda: cached.get("app/db", ttl=0)) == 2
            assert fake.calls["get"] == 3

    run(main())


def test_a_read_with_a_per_call_ttl_waits_for_the_fresh_answer_as_the_sync_one_does() -> None:
    from helium_secrets import CachePolicy

    async def main() -> None:
        fake, backend = gated()
        policy = CachePolicy(ttl=60, refresh_ahead=0, stale_wait=0.01)
        async with AsyncSecretStore(backend, cache=policy) as store:
            backend.gate.set()
            await store.get("app/db")
            backend.gate.clear()
            fake.write_external("app/db", "rotated")
            read = asyncio.ensure_future(store.get("app/db", ttl=0))
            await asyncio.sleep(0.05)  # well past the stale wait: still waiting, not served stale
            assert not read.done()
            backend.gate.set()
            assert (await read).value.reveal() == "rotated", "not the cached value"
            assert (await store.stats()).stale_served == 0

    run(main())


def test_max_attempts_counts_the_first_attempt_on_the_async_twin_too() -> None:
    async def main() -> None:
        fake = MemoryBackend()
        fake.write_external("app/db", "one")
        fake.fail_next(3, UnavailableError)
        quick = RetryPolicy(max_attempts=3, initial_backoff=0, max_backoff=0)
        async with AsyncSecretStore(AsyncMemoryBackend.wrap(fake), retry=quick,
                                    clock=ManualClock()) as store:
            with pytest.raises(UnavailableError):
                await store.get("app/db")  # three attempts, all failed
            assert fake.calls["get"] == 3
            assert (await store.stats()).retries == 2

    run(main())


def test_the_async_twins_retry_waits_on_the_stores_clock() -> None:
    async def main() -> None:
        clock = ManualClock()
        fake = MemoryBackend()
        fake.write_external("app/db", "one")
        fake.fail_next(1, ThrottledError("slow down", retry_after=0.25))
        no_jitter = RetryPolicy(initial_backoff=0, max_backoff=0)
        async with AsyncSecretStore(AsyncMemoryBackend.wrap(fake), retry=no_jitter,
                                    clock=clock) as store:
            assert (await store.get("app/db")).value.reveal() == "one"
            assert clock.sleeps == [0.25], "the service's hint, waited on the store's clock"
            assert clock.monotonic() == 1000.25
            assert fake.calls["get"] == 2

    run(main())
