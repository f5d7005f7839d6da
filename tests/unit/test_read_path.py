"""The read path is one path: get_many's cached and batched parts follow get's rules, and a slow
or silent backend costs a reader of a cached value at most the stale wait."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from helium_secrets import AuditEvent, CachePolicy, GuardPolicy, PollPolicy, RetryPolicy, SecretStore
from helium_secrets.backends._base import Classified, RawSecret
from helium_secrets.errors import (
    ConflictError,
    ErrorCode,
    HeliumError,
    PermissionDeniedError,
    SecretNotFoundError,
    UnavailableError,
)
from tests.unit.clock import TIMEOUT, ControlledBackend, Hold, ManualClock, wait_until


class BatchBackend(ControlledBackend):
    """The fake with a native batch get whose calls can be held and inspected."""

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.capabilities = dataclasses.replace(self.capabilities, batch_get=3)
        self.batches: list[list[str]] = []
        self.batch_hold: Hold | None = None

    def get_many(self, names: Sequence[str]) -> dict[str, RawSecret | BaseException]:
        self._enter("get_many")
        self.batches.append(list(names))
        answers: dict[str, RawSecret | BaseException] = {}
        for name in names:
            try:
                answers[name] = super().get(name)
            except Exception as exc:
                answers[name] = exc
        hold, self.batch_hold = self.batch_hold, None
        if hold is not None:  # answers decided now, delivered after the release
            hold.entered.set()
            assert hold.released.wait(TIMEOUT)
        return answers


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def backend(clock: ManualClock) -> BatchBackend:
    backend = BatchBackend(clock)
    for name in ("a", "b", "c"):
        backend.write_external(name, f"{name}-v1")
    return backend


@pytest.fixture
def store(backend: BatchBackend, clock: ManualClock) -> Iterator[SecretStore]:
    with SecretStore(backend, clock=clock, cache=CachePolicy(ttl=60, refresh_ahead=0),
                     poll=PollPolicy(interval=None), retry=RetryPolicy(max_attempts=2)) as store:
        yield store


def test_a_batch_answer_never_caches_over_the_stores_own_newer_put(
    store: SecretStore, backend: BatchBackend
) -> None:
    backend.batch_hold = hold = Hold()
    with ThreadPoolExecutor(1) as pool:
        batch = pool.submit(store.get_many, ["a", "b"])
        hold.wait_entered()  # the batch has read a-v1
        store.put("a", "a-v2")
        hold.release()
        assert batch.result(TIMEOUT)["a"].value.reveal() == "a-v1"
    assert store.get("a").value.reveal() == "a-v2", "the older batch answer was not cached"


def test_get_many_serves_stale_values_when_the_backend_fails(
    store: SecretStore, backend: BatchBackend, clock: ManualClock
) -> None:
    store.get_many(["a", "b"])
    clock.advance(61)  # expired, within stale_if_error
    backend.fail_next(5, Classified(ErrorCode.UNAVAILABLE), operations=["get_many"])
    got = store.get_many(["a", "b"])
    assert {n: s.value.reveal() for n, s in got.items()} == {"a": "a-v1", "b": "b-v1"}
    assert store.stats().stale_served == 2


def test_get_many_joins_a_read_in_flight_instead_of_fetching_it_again(
    store: SecretStore, backend: BatchBackend
) -> None:
    hold = backend.hold("a")
    with ThreadPoolExecutor(1) as pool:
        single = pool.submit(store.get, "a")
        hold.wait_entered()
        threading.Timer(0.2, hold.release).start()
        got = store.get_many(["a", "b", "c"])
        assert single.result(TIMEOUT).version == got["a"].version
    assert backend.batches == [["b", "c"]], "a was coalesced onto the get in flight"
    assert store.stats().coalesced == 1


def test_get_many_batches_by_the_declared_size(store: SecretStore, backend: BatchBackend) -> None:
    for name in ("d", "e"):
        backend.write_external(name, "x")
    store.get_many(["a", "b", "c", "d", "e"])
    assert backend.batches == [["a", "b", "c"], ["d", "e"]]


def test_get_many_remembers_not_found_like_get(store: SecretStore, backend: BatchBackend) -> None:
    assert store.get_many(["a", "nope"], ignore_missing=True).keys() == {"a"}
    calls = len(backend.batches)
    assert store.get_many(["a", "nope"], ignore_missing=True).keys() == {"a"}
    assert len(backend.batches) == calls, "both answers came from the cache"
    assert store.stats().negative_hits == 1
    with pytest.raises(SecretNotFoundError):
        store.get("nope")


def test_get_many_audits_each_name_cached_or_fetched(store: SecretStore) -> None:
    events: list[AuditEvent] = []
    store.add_audit_hook(events.append)
    store.get("a")
    events.clear()
    store.get_many(["a", "b"])
    per_name = {(e.name, e.cache) for e in events if e.operation == "get"}
    assert per_name == {("a", "hit"), ("b", "miss")}
    assert all(e.version for e in events if e.operation == "get")


def test_ignore_missing_skips_only_what_does_not_exist(
    store: SecretStore, backend: BatchBackend
) -> None:
    backend.fail_next(1, PermissionDeniedError, operations=["get"])  # one item of the batch
    with pytest.raises(PermissionDeniedError) as info:
        store.get_many(["a", "b"], ignore_missing=True)
    assert info.value.name == "a"


def test_a_silent_backend_costs_a_reader_of_a_cached_value_at_most_the_stale_wait(
    backend: BatchBackend, clock: ManualClock
) -> None:
    policy = CachePolicy(ttl=60, refresh_ahead=0, stale_wait=0.05)
    with SecretStore(backend, clock=clock, cache=policy, poll=PollPolicy(interval=None)) as store:
        store.get("a")
        clock.advance(61)
        hold = backend.hold("a")  # the backend accepts the call and does not answer
        try:
            assert store.get("a").value.reveal() == "a-v1"
            hold.wait_entered()
            assert store.get("a").value.reveal() == "a-v1", "a second reader is not held either"
            assert backend.reads["a"] == 2, "one fetch in flight serves every reader"
            assert store.stats().stale_served == 2
            backend.write_external("a", "a-v2")
        finally:  # a failed check must not leave the held call (and close()) waiting
            hold.release()  # the answer comes late (it reads v2 now), and fills the cache
        wait_until(lambda: store.get("a").version == "2", "the late answer is cached")
        assert backend.reads["a"] == 2, "the readers meanwhile joined the fetch in flight"


def test_a_reader_interrupted_while_fetching_for_others_does_not_strand_them(
    backend: BatchBackend, clock: ManualClock
) -> None:
    class Interrupt(BaseException):  # a KeyboardInterrupt, a gevent timeout
        pass

    original = backend.get
    entered, go = threading.Event(), threading.Event()

    def get(name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        if not entered.is_set():  # the first call: interrupted while the others wait on it
            entered.set()
            assert go.wait(TIMEOUT)
            raise Interrupt()
        return original(name, version, label)

    backend.get = get  # type: ignore[method-assign]
    results: list[str] = []
    with SecretStore(backend, clock=clock, poll=PollPolicy(interval=None),
                     guard=GuardPolicy(threshold=1)) as store, ThreadPoolExecutor(2) as pool:
        leader = pool.submit(store.get, "a")
        assert entered.wait(TIMEOUT)
        follower = pool.submit(lambda: results.append(store.get("a").value.reveal()))
        try:  # the follower waits on the leader (or, a defect caught here, did not wait)
            wait_until(lambda: store.stats().coalesced == 1 or follower.done(),
                       "the follower waits on the leader")
            assert store.stats().coalesced == 1, "the follower fetched on its own"
        finally:
            go.set()
        with pytest.raises(Interrupt):
            leader.result(TIMEOUT)
        follower.result(TIMEOUT)
    assert results == ["a-v1"], "the follower fetched again instead of inheriting the interrupt"


def test_a_silent_backend_costs_a_batch_reader_of_cached_values_at_most_the_stale_wait(
    backend: BatchBackend, clock: ManualClock
) -> None:
    policy = CachePolicy(ttl=60, refresh_ahead=0, stale_wait=0.05)
    with SecretStore(backend, clock=clock, cache=policy, poll=PollPolicy(interval=None)) as store:
        store.get_many(["a", "b"])
        clock.advance(61)
        backend.batch_hold = hold = Hold()  # the batch call does not answer
        got = store.get_many(["a", "b"])
        assert {n: s.value.reveal() for n, s in got.items()} == {"a": "a-v1", "b": "b-v1"}
        assert store.stats().stale_served == 2
        hold.release()



def test_a_read_with_a_per_call_ttl_waits_for_the_fresh_answer(
    backend: BatchBackend, clock: ManualClock
) -> None:
    policy = CachePolicy(ttl=60, refresh_ahead=0, stale_wait=0.0)
    with SecretStore(backend, clock=clock, cache=policy, poll=PollPolicy(interval=None)) as store:
        store.get("a")
        backend.write_external("a", "a-v2")
        hold = backend.hold("a")
        threading.Timer(0.2, hold.release).start()  # a slow answer
        assert store.get("a", ttl=0).value.reveal() == "a-v2", "not the cached value"
        assert store.stats().stale_served == 0


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "one-by-one"])
@pytest.mark.parametrize("error", [PermissionDeniedError, UnavailableError, ConflictError],
                         ids=["denied", "unavailable", "conflict"])
def test_ignore_missing_raises_any_error_but_not_found(
    backend: BatchBackend, clock: ManualClock, batched: bool, error: type[HeliumError]
) -> None:
    if not batched:
        backend.capabilities = dataclasses.replace(backend.capabilities, batch_get=0)
    with SecretStore(backend, clock=clock, cache=CachePolicy(ttl=60, refresh_ahead=0),
                     poll=PollPolicy(interval=None), retry=RetryPolicy.never()) as store:
        store.get("a")  # cached: "b" is the first name read from the backend
        backend.fail_next(1, error, operations=["get"])
        with pytest.raises(error) as info:
            store.get_many(["a", "b", "nope", "c"], ignore_missing=True)
        assert info.value.name == "b"
        assert backend.batches == ([["b", "nope", "c"]] if batched else [])
        assert list(store.get_many(["a", "b", "nope", "c"], ignore_missing=True)) == ["a", "b", "c"]


class _RecordingExecutor(ThreadPoolExecutor):
    """An executor of the caller's: runs each job at once, remembers it, and counts shutdowns."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.jobs: list[str] = []
        self.shutdowns = 0

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.jobs.append(getattr(fn, "__name__", "?"))
        return super().submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.shutdowns += 1
        super().shutdown(wait=wait, cancel_futures=cancel_futures)


def test_background_refreshes_run_on_the_executor_given_and_close_leaves_it_running() -> None:
    # SecretStore(executor=...): a simulation (benchmarks/fleet.py) or a test runs the store's
    # background work on its own schedule; one executor may serve many stores, so a store's
    # close() must not shut it down.
    clock = ManualClock()
    backend = ControlledBackend(clock)
    backend.put("app/db", "v1")
    executor = _RecordingExecutor()
    stores = [SecretStore(backend, clock=clock, executor=executor,
                          cache=CachePolicy(ttl=100, refresh_ahead=0.2)) for _ in range(2)]
    for store in stores:
        store.get("app/db")
    clock.advance(95)  # inside the refresh-ahead window of both
    reads = backend.calls["get"]
    for store in stores:
        store.get("app/db")
    wait_until(lambda: backend.calls["get"] == reads + 2, "both refreshes")
    assert executor.jobs == ["run", "run"]
    stores[0].close()
    assert executor.shutdowns == 0
    clock.advance(95)
    stores[1].get("app/db")
    wait_until(lambda: backend.calls["get"] == reads + 3, "the second store's refresh")
    stores[1].close()
    assert executor.shutdowns == 0
    executor.shutdown()


def test_open_store_passes_the_executor_to_the_store() -> None:
    from helium_secrets import open_store

    executor = _RecordingExecutor()
    with open_store("mem://", executor=executor) as store:
        assert store._reads._tasks._executor is executor
    executor.shutdown()
