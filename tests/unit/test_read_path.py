"""The read path is one path: get_many's cached and batched parts follow get's rules, and a slow
or silent backend costs a reader of a cached value at most the stale wait."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor, wait
from typing import ParamSpec, TypeVar

import pytest

from helium_secrets import AuditEvent, CachePolicy, GuardPolicy, PollPolicy, RetryPolicy, SecretStore
from helium_secrets.backends._base import Classified, RawSecret
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import (
    ConflictError,
    ErrorCode,
    HeliumError,
    PermissionDeniedError,
    SecretNotFoundError,
    UnavailableError,
    VersionNotFoundError,
)
from tests.unit.clock import TIMEOUT, ControlledBackend, Hold, ManualClock, wait_until

P = ParamSpec("P")
T = TypeVar("T")


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


def test_get_many_counts_the_reads_it_joined_on_top_of_earlier_ones(
    store: SecretStore, backend: BatchBackend
) -> None:
    hold = backend.hold("a")
    with ThreadPoolExecutor(2) as pool:
        single = pool.submit(store.get, "a")
        hold.wait_entered()
        batch = pool.submit(store.get_many, ["a", "b"])
        try:
            wait_until(lambda: store.stats().coalesced == 1, "the batch joins the read of a")
        finally:
            hold.release()
        assert batch.result(TIMEOUT)["a"].version == single.result(TIMEOUT).version
    store.get_many(["c"])  # nothing in flight to join
    stats = store.stats()
    assert (stats.coalesced, stats.misses) == (1, 3), "the counts go on from the earlier reads"


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


def test_a_per_call_ttl_waits_for_its_own_fetch_past_the_stale_wait(
    backend: BatchBackend, clock: ManualClock
) -> None:
    """``get(name, ttl=...)`` asks for a value no older than that: its fetch runs in the
    caller, to the end, and the expired value only covers a failure, never the stale wait."""
    policy = CachePolicy(ttl=60, refresh_ahead=0, stale_if_error=600, stale_wait=0.01)
    with SecretStore(backend, clock=clock, cache=policy, poll=PollPolicy(interval=None)) as store, \
            ThreadPoolExecutor(1) as pool:
        store.get("a")
        clock.advance(61)
        backend.write_external("a", "a-v2")
        hold = backend.hold("a")
        fresh = pool.submit(store.get, "a", ttl=0)
        hold.wait_entered()
        try:
            done, _ = wait([fresh], timeout=0.3)  # thirty times the stale wait
            assert not done, "the caller was served the expired value instead of waiting"
        finally:
            hold.release()
        assert fresh.result(TIMEOUT).value.reveal() == "a-v2"
        assert store.stats().stale_served == 0


def test_hits_are_counted_and_audited_one_by_one(backend: BatchBackend,
                                                 clock: ManualClock) -> None:
    events: list[AuditEvent] = []
    with SecretStore(backend, clock=clock, cache=CachePolicy(ttl=60, refresh_ahead=0),
                     poll=PollPolicy(interval=None), audit=(events.append,)) as store:
        for _ in range(3):
            store.get("a")
        assert (store.stats().misses, store.stats().hits) == (1, 2)
    hits = [event for event in events if event.cache == "hit"]
    assert [(event.name, event.version, event.latency_s, event.attempts) for event in hits] == [
        ("a", "1", 0.0, 0), ("a", "1", 0.0, 0)]


def test_a_reader_who_comes_after_the_stale_wait_ran_out_is_served_at_once(
    backend: BatchBackend, clock: ManualClock
) -> None:
    """The stale wait counts from the start of the fetch, not from each reader's arrival: one
    who comes when it has run out gets the cached value at once, audited as stale because the
    backend is slow."""
    events: list[AuditEvent] = []
    policy = CachePolicy(ttl=60, refresh_ahead=0, stale_wait=30)
    with SecretStore(backend, clock=clock, cache=policy, poll=PollPolicy(interval=None),
                     audit=(events.append,)) as store, ThreadPoolExecutor(2) as pool:
        store.get("a")
        clock.advance(61)
        hold = backend.hold("a")
        try:
            first = pool.submit(store.get, "a")  # starts the fetch, waits (30 s of real time)
            hold.wait_entered()
            clock.advance(31)  # the fetch has now run longer than the stale wait
            late = pool.submit(store.get, "a")
            assert late.result(timeout=10).value.reveal() == "a-v1", "the late reader waited"
        finally:
            hold.release()
        assert first.result(TIMEOUT).version == "1"
    # The late reader's event (the first reader's too, when it reached its wait after the
    # clock moved: then its own stale wait had run out as well).
    stale = [(event.name, event.version, event.cache, event.detail) for event in events
             if event.cache == "stale"]
    assert stale and set(stale) == {("a", "1", "stale", "the backend is slow")}


def test_only_a_read_of_the_current_version_through_the_cache_is_audited_as_a_miss(
    backend: BatchBackend, clock: ManualClock
) -> None:
    events: list[AuditEvent] = []
    with SecretStore(backend, clock=clock, cache=CachePolicy(ttl=60, refresh_ahead=0),
                     poll=PollPolicy(interval=None), audit=(events.append,)) as cached:
        cached.get("a")
        cached.get("a", "1")
    with SecretStore(backend, clock=clock, cache=None, poll=PollPolicy(interval=None),
                     audit=(events.append,)) as uncached:
        uncached.get("a")
    assert [(event.version, event.cache) for event in events] == [
        ("1", "miss"), ("1", None), ("1", None)]


class _NotFoundAlike(MemoryBackend):
    """A service that answers a missing version or label as it answers a missing secret."""

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        try:
            return super().get(name, version, label)
        except VersionNotFoundError as exc:
            raise SecretNotFoundError("not found", backend=self.name, name=name) from exc


@pytest.mark.parametrize(("version", "label", "message"), [
    ("9", None, "no such version"), (None, "nope", "no such label"),
])
def test_a_missing_version_or_label_of_a_secret_that_exists_says_which(
    version: str | None, label: str | None, message: str
) -> None:
    backend = _NotFoundAlike()
    backend.write_external("a", "a-v1")
    with (SecretStore(backend, poll=PollPolicy(interval=None)) as store,
          pytest.raises(VersionNotFoundError) as info):
        store.get("a", version, label=label)
    assert info.value.message == message


def test_a_background_fetch_that_answers_in_time_audits_no_coalesced_read(
    backend: BatchBackend, clock: ManualClock
) -> None:
    """A reader of an expired value who started the fetch (in the background) and got its
    answer within the stale wait is its fetch's caller, not a reader who joined another's."""
    events: list[AuditEvent] = []
    policy = CachePolicy(ttl=60, refresh_ahead=0, stale_wait=30)
    with SecretStore(backend, clock=clock, cache=policy, poll=PollPolicy(interval=None),
                     audit=(events.append,)) as store:
        store.get("a")
        clock.advance(61)
        backend.write_external("a", "a-v2")
        assert store.get("a").value.reveal() == "a-v2"
        assert store.stats().coalesced == 0
    assert [event.cache for event in events] == ["miss", "miss"]


@pytest.mark.parametrize("fails", [False, True], ids=["answer", "error"])
def test_a_reader_who_joined_another_ones_fetch_is_audited_as_coalesced(
    backend: BatchBackend, clock: ManualClock, fails: bool
) -> None:
    events: list[AuditEvent] = []
    with (SecretStore(backend, clock=clock, cache=CachePolicy(ttl=60, refresh_ahead=0),
                      poll=PollPolicy(interval=None), retry=RetryPolicy.never(),
                      audit=(events.append,)) as store,
          ThreadPoolExecutor(2) as pool):
        hold = backend.hold("a")
        leader = pool.submit(store.get, "a")
        hold.wait_entered()
        follower = pool.submit(store.get, "a")
        wait_until(lambda: store.stats().coalesced == 1, "the second reader joins the first")
        if fails:
            backend.fail_next(1, PermissionDeniedError)
        hold.release()
        wait([leader, follower], timeout=TIMEOUT)
    joined = [event for event in events if event.cache == "coalesced"]
    assert [(event.operation, event.name, event.version, event.outcome, event.error_code,
             event.attempts) for event in joined] == [
        ("get", "a", None, "error", "permission_denied", 0) if fails
        else ("get", "a", "1", "ok", None, 0)]
    assert 0 <= joined[0].latency_s < TIMEOUT  # the wait, not a clock reading


class Interrupt(BaseException):
    """A KeyboardInterrupt, a gevent timeout: what may stop a reader in the middle of a fetch."""


def interrupt_first_read(backend: BatchBackend,
                         of: str | None = None) -> tuple[threading.Event, threading.Event]:
    """Make the backend's first ``get`` (of ``of``, or of any name) wait until ``go`` is set,
    then raise :class:`Interrupt`, while the readers who joined it wait; ``entered`` is set
    when it arrives. Returns ``(entered, go)``."""
    original = backend.get
    entered, go = threading.Event(), threading.Event()

    def get(name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        if (of is None or name == of) and not entered.is_set():
            entered.set()
            assert go.wait(TIMEOUT)
            raise Interrupt()
        return original(name, version, label)

    backend.get = get  # type: ignore[method-assign]
    return entered, go


def test_a_reader_interrupted_while_fetching_for_others_does_not_strand_them(
    backend: BatchBackend, clock: ManualClock
) -> None:
    entered, go = interrupt_first_read(backend)
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


def test_a_batch_waiting_on_an_interrupted_read_reads_that_name_again(
    backend: BatchBackend, clock: ManualClock
) -> None:
    entered, go = interrupt_first_read(backend, "a")  # interrupted while the batch waits on it
    with SecretStore(backend, clock=clock, cache=CachePolicy(ttl=60, refresh_ahead=0),
                     poll=PollPolicy(interval=None), retry=RetryPolicy(max_attempts=2)) as store, \
            ThreadPoolExecutor(2) as pool:
        store.get("b")  # cached: the batch has only the read of a to wait for
        leader = pool.submit(store.get, "a")
        assert entered.wait(TIMEOUT)
        batch = pool.submit(store.get_many, ["a", "b"])
        try:
            wait_until(lambda: store.stats().coalesced == 1 or batch.done(),
                       "the batch waits on the read of a")
            assert store.stats().coalesced == 1, "the batch fetched a on its own"
            # The batch's own read of a fails once: the batch's retry policy covers it.
            backend.fail_next(1, UnavailableError, operations=["get"])
        finally:
            go.set()
        with pytest.raises(Interrupt):
            leader.result(TIMEOUT)
        got = batch.result(TIMEOUT)
        assert {n: s.value.reveal() for n, s in got.items()} == {"a": "a-v1", "b": "b-v1"}
        assert store.stats().retries == 1
    assert backend.batches == [], "a was read again on its own, b came from the cache"


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


class _InlineExecutor(Executor):
    """An executor of the caller's that runs each job at once, in the thread that submits it
    (as a simulation's does), and counts the jobs: a background fetch is over when the store's
    call to ``submit`` returns, so what the reader then gets does not depend on timing."""

    def __init__(self) -> None:
        self.jobs = 0

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        self.jobs += 1
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # kept in the future, as a pool's worker would
            future.set_exception(exc)
        return future


def _inline_store(backend: BatchBackend, clock: ManualClock, executor: Executor,
                  retry: RetryPolicy) -> SecretStore:
    # A short stale wait: a reader whose fetch never answers gets its stale value at once.
    return SecretStore(backend, clock=clock, executor=executor, retry=retry,
                       cache=CachePolicy(ttl=60, refresh_ahead=0, stale_wait=0.05),
                       poll=PollPolicy(interval=None))


def test_a_batch_of_expired_values_is_fetched_in_the_background_in_batches_of_its_size(
    backend: BatchBackend, clock: ManualClock
) -> None:
    names = ["a", "b", "c", "d"]
    backend.write_external("d", "d-v1")
    executor = _InlineExecutor()
    with _inline_store(backend, clock, executor, RetryPolicy(max_attempts=2)) as store:
        for name in names:
            store.get(name)
        clock.advance(61)  # all expired, within stale_if_error
        for name in names:
            backend.write_external(name, f"{name}-v2")
        got = store.get_many(names)
        assert {n: s.value.reveal() for n, s in got.items()} == {n: f"{n}-v2" for n in names}
        assert executor.jobs == 2, "each batch of expired values was fetched in the background"
        assert backend.batches == [["a", "b", "c"], ["d"]]
        assert store.stats().stale_served == 0
        # Without a cached value to fall back on, the batch is fetched in the caller's thread.
        backend.write_external("e", "e-v1")
        assert store.get_many(["e"])["e"].value.reveal() == "e-v1"
        assert executor.jobs == 2
        assert backend.batches[2:] == [["e"]]


def test_a_background_batch_that_fails_transiently_is_retried_by_the_stores_policy(
    backend: BatchBackend, clock: ManualClock
) -> None:
    executor = _InlineExecutor()
    with _inline_store(backend, clock, executor, RetryPolicy(max_attempts=2)) as store:
        store.get("a")
        store.get("b")
        clock.advance(61)
        backend.write_external("a", "a-v2")
        backend.fail_next(1, UnavailableError, operations=["get_many"])
        got = store.get_many(["a", "b"])
        assert {n: s.value.reveal() for n, s in got.items()} == {"a": "a-v2", "b": "b-v1"}
        stats = store.stats()
        assert (executor.jobs, stats.retries, stats.stale_served) == (1, 1, 0)


def test_a_batch_that_serves_stale_values_audits_each_name_with_its_version_and_why(
    backend: BatchBackend, clock: ManualClock
) -> None:
    executor = _InlineExecutor()
    with _inline_store(backend, clock, executor, RetryPolicy.never()) as store:
        store.get("a")
        store.get("b")
        events: list[AuditEvent] = []
        store.add_audit_hook(events.append)
        clock.advance(61)
        backend.fail_next(1, UnavailableError, operations=["get_many"])
        got = store.get_many(["a", "b"])
        assert {n: s.value.reveal() for n, s in got.items()} == {"a": "a-v1", "b": "b-v1"}
        stale = [(e.name, e.version, e.detail, e.outcome) for e in events if e.cache == "stale"]
        assert stale == [("a", "1", "unavailable", "ok"), ("b", "1", "unavailable", "ok")]
        assert store.stats().stale_served == 2
