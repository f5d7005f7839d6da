"""The read cache: expiry, per-call TTL, refresh-ahead, stale-if-error, negative caching,
write-through, eviction, refresh/clear, request coalescing, stats and audit events.

Time is a :class:`~tests.unit.clock.ManualClock`; a "slow" backend call is one held at a gate.
Durations are binary fractions so that clock arithmetic is exact.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

import pytest

from helium_secrets import (
    AuditEvent,
    CachePolicy,
    GuardPolicy,
    PollPolicy,
    RetryPolicy,
    Secret,
    SecretStore,
    SecretValue,
)
from helium_secrets.errors import (
    HeliumError,
    PermissionDeniedError,
    SecretNotFoundError,
    StoreClosedError,
    ThrottledError,
    UnauthenticatedError,
    UnavailableError,
    VersionNotFoundError,
)
from helium_secrets.layers.cache import SecretCache
from tests.unit.clock import (
    TIMEOUT,
    ControlledBackend,
    ManualClock,
    QueuedExecutor,
    canary,
    wait_until,
)

THREADS = 32
NO_RETRY = RetryPolicy.never()
NO_GUARD = GuardPolicy(threshold=0)

MakeStore = Callable[..., SecretStore]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def backend(clock: ManualClock) -> ControlledBackend:
    return ControlledBackend(clock)


@pytest.fixture
def make_store(backend: ControlledBackend, clock: ManualClock) -> Iterator[MakeStore]:
    """Stores on the controlled backend and the manual clock; no retries, no guard and no
    refresh-ahead unless a test asks, so each test sees one layer at a time."""
    made: list[SecretStore] = []

    def make(
        *,
        retry: RetryPolicy = NO_RETRY,
        guard: GuardPolicy = NO_GUARD,
        audit: tuple[Callable[[AuditEvent], None], ...] = (),
        executor: Executor | None = None,
        **cache: Any,
    ) -> SecretStore:
        store = SecretStore(
            backend,
            cache=CachePolicy(**{"refresh_ahead": 0.0, **cache}),
            retry=retry,
            guard=guard,
            poll=PollPolicy(interval=None),
            audit=audit,
            clock=clock,
            executor=executor,
        )
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def _concurrent_gets(
    store: SecretStore, backend: ControlledBackend, name: str, threads: int = THREADS
) -> list[Future[Secret]]:
    """``threads`` reads of ``name`` at once: the first is held in the backend until all the
    others are waiting for it, so the overlap is certain rather than likely."""
    hold = backend.hold(name)
    pool = ThreadPoolExecutor(threads)
    try:
        futures = [pool.submit(store.get, name) for _ in range(threads)]
        hold.wait_entered()
        # Each other reader waits for the first or (a defect the caller's assertions then
        # report at once) got an answer without it: no wait for a timeout either way.
        wait_until(lambda: store.stats().coalesced + sum(f.done() for f in futures) >= threads - 1,
                   f"{threads - 1} readers wait for the first")
    finally:
        hold.release()
        pool.shutdown(wait=True)
    return futures


# -- expiry and per-call TTL ---------------------------------------------------------------


def test_a_cached_value_is_served_until_its_ttl_ends(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("app/db", "v1")
    store = make_store(ttl=10)
    first = store.get("app/db")
    backend.write_external("app/db", "v2")  # rotated elsewhere: unseen until expiry
    clock.advance(9.5)
    assert store.get("app/db") is first
    assert backend.reads["app/db"] == 1
    clock.advance(0.5)
    assert store.get("app/db").value.reveal() == "v2"
    assert backend.reads["app/db"] == 2
    stats = store.stats()
    assert (stats.hits, stats.misses, stats.backend_calls) == (1, 2, 2)


def test_a_per_call_ttl_is_the_oldest_value_accepted_and_the_ttl_of_what_it_fetches(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("a", "v1")
    store = make_store(ttl=100)
    store.get("a")
    clock.advance(5)
    store.get("a", ttl=10)  # 5 s old: young enough
    assert backend.reads["a"] == 1
    store.get("a", ttl=4)  # too old for this call: fetched, and cached for 4 s
    assert backend.reads["a"] == 2
    clock.advance(3.5)
    store.get("a")
    assert backend.reads["a"] == 2
    clock.advance(0.5)
    store.get("a")
    assert backend.reads["a"] == 3


def test_ttl_zero_fetches_once_time_has_moved(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("a", "v1")
    store = make_store(ttl=100)
    store.get("a")
    clock.advance(0.125)
    store.get("a", ttl=0)
    assert backend.reads["a"] == 2


def test_ttl_zero_always_fetches_even_within_one_clock_tick(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    backend.write_external("a", "v1")
    store = make_store(ttl=100)
    store.get("a")
    store.get("a", ttl=0)  # documented: "0 always fetches"
    assert backend.reads["a"] == 2


def test_without_a_cache_every_read_reaches_the_backend(
    backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("a", "v1")
    with SecretStore(backend, cache=None, clock=clock, poll=PollPolicy(interval=None)) as store:
        store.get("a")
        store.get("a")
        assert backend.reads["a"] == 2
        assert store.stats().hits == 0
        assert store.stats().cached == 0


# -- refresh-ahead ---------------------------------------------------------------------------


def test_refresh_ahead_moments_are_jittered_over_the_last_part_of_the_ttl() -> None:
    """A refresh made when due sets the next one a period later, the period jittered in
    [ttl * (1 - refresh_ahead), ttl * (1 - refresh_ahead / 2)]."""
    policy = CachePolicy(ttl=100, refresh_ahead=0.2)
    secret = Secret(name="a", value=SecretValue(canary("cache")), version="1")
    for rng_value, period in ((0.0, 90.0), (0.5, 85.0), (1.0, 80.0)):
        cache = SecretCache(policy, rng=_constant(rng_value))
        cache.put("a", secret, now=0.0)
        due = cache.entries["a"].refresh_at
        cache.put("a", secret, now=due)
        entry = cache.entries["a"]
        assert entry.refresh_at == due + period
        assert entry.expires_at == due + 100.0


def _constant(value: float) -> Callable[[], float]:
    return lambda: value


def test_refresh_ahead_refreshes_in_the_background_while_callers_keep_the_old_value(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("app/db", "v1")
    store = make_store(ttl=100, refresh_ahead=0.2)
    refreshed = threading.Event()
    store.on_rotation("app/db", lambda old, new: refreshed.set())  # reads and caches v1
    assert store.stats().refreshes == 0

    backend.write_external("app/db", "v2")
    hold = backend.hold("app/db")
    clock.advance(90)  # past its first refresh moment (drawn in [0, 90]), not expired
    try:
        assert store.get("app/db").value.reveal() == "v1"  # at once: the refresh is behind
        hold.wait_entered()
        for _ in range(5):  # while the refresh is in flight, readers still get the old value
            assert store.get("app/db").value.reveal() == "v1"
        assert backend.reads["app/db"] == 2  # one refresh, however many readers
    finally:
        hold.release()
    assert refreshed.wait(TIMEOUT)
    assert store.get("app/db").value.reveal() == "v2"
    assert backend.reads["app/db"] == 2
    stats = store.stats()
    assert stats.refreshes == 1
    assert stats.stale_served == 0


def test_refresh_ahead_off_means_no_read_before_expiry(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("a", "v1")
    store = make_store(ttl=100, refresh_ahead=0)
    store.get("a")
    clock.advance(99.5)
    store.get("a")
    assert backend.reads["a"] == 1
    assert store.stats().refreshes == 0


def test_a_failed_background_refresh_keeps_the_cached_value_and_is_tried_again(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    events: list[AuditEvent] = []
    backend.write_external("a", "v1")
    store = make_store(ttl=100, refresh_ahead=0.2, audit=(events.append,))
    first = store.get("a")
    refreshed = threading.Event()
    store.on_rotation("a", lambda old, new: refreshed.set())
    backend.write_external("a", "v2")
    clock.advance(90)
    backend.fail_next(1)
    del events[:]
    assert store.get("a") is first  # the caller never sees the refresh's error
    # Wait for the refresh's own event (the one that reached the backend), whatever it says,
    # so that a wrong outcome fails here at once rather than at a timeout.
    wait_until(lambda: any(e.attempts for e in events), "the background refresh is audited")
    tried = next(e for e in events if e.attempts)
    assert (tried.outcome, tried.error_code) == ("error", "unavailable")
    assert store.get("a") is first
    assert not refreshed.is_set()

    # Each read in the window may start a refresh once none is running: keep reading until
    # one got through to the backend.
    wait_until(lambda: store.get("a") is not None and backend.reads["a"] >= 3,
               "a read in the window starts a new refresh")
    assert refreshed.wait(TIMEOUT)
    assert store.get("a").value.reveal() == "v2"


def test_a_failed_background_refresh_is_not_counted_as_stale_served(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    events: list[AuditEvent] = []
    backend.write_external("a", "v1")
    store = make_store(ttl=100, refresh_ahead=0.2, audit=(events.append,))
    store.get("a")
    clock.advance(90)
    backend.fail_next(1)
    hold = backend.hold("a")
    store.get("a")
    hold.wait_entered()
    hold.release()
    store.close()  # waits for the background refresh to finish
    assert store.stats().stale_served == 0
    assert [e.cache for e in events if e.cache == "stale"] == []


def test_refresh_ahead_makes_one_backend_call_however_many_reads_queue_it(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    for name in ("a", "b", "c", "d"):
        backend.write_external(name, f"value of {name}")
    store = make_store(ttl=100, refresh_ahead=0.2)
    for name in ("a", "b", "c", "d"):
        store.get(name)
    clock.advance(90)  # every entry is in its refresh window
    hold_a, hold_b, hold_d = backend.hold("a"), backend.hold("b"), backend.hold("d")
    hold_d.release()  # d's refresh only tells us when the queue has drained
    try:
        store.get("a")
        hold_a.wait_entered()  # the first refresh worker is busy...
        store.get("b")
        hold_b.wait_entered()  # ...and so is the second
        store.get("c")  # c's refresh is queued, not running...
        store.get("c")  # ...so this read queues another
        store.get("d")
        hold_a.release()  # one worker runs the queue in order: c, c, d
        hold_d.wait_entered()
        assert backend.reads["c"] == 2  # the first read and one refresh
    finally:
        hold_a.release()
        hold_b.release()


def test_close_waits_for_a_refresh_in_flight_and_caches_nothing_after(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("a", "v1")
    store = make_store(ttl=100, refresh_ahead=0.2)
    store.get("a")
    clock.advance(90)
    hold = backend.hold("a")
    store.get("a")
    hold.wait_entered()
    with ThreadPoolExecutor(1) as pool:
        closing = pool.submit(store.close)
        hold.release()
        closing.result(TIMEOUT)
    assert store.stats().cached == 0
    with pytest.raises(StoreClosedError):
        store.get("a")


def test_a_refresh_ahead_reads_each_due_value_once_in_the_background_and_renews_it(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    executor = QueuedExecutor()
    for name in ("a", "b"):
        backend.write_external(name, f"{name}-v1")
    store = make_store(ttl=100, refresh_ahead=0.2, executor=executor)
    for name in ("a", "b"):
        store.get(name)
        backend.write_external(name, f"{name}-v2")
    clock.advance(90)  # past both first refresh moments (drawn in [0, 90]), not expired
    assert [store.get(n).value.reveal() for n in ("a", "b")] == ["a-v1", "b-v1"]
    assert (backend.reads["a"], backend.reads["b"]) == (1, 1), "the refreshes wait their turn"
    assert executor.run_all() == 2, "one background refresh for each due value"
    assert (backend.reads["a"], backend.reads["b"]) == (2, 2)
    assert [store.get(n).value.reveal() for n in ("a", "b")] == ["a-v2", "b-v2"]
    assert (backend.reads["a"], backend.reads["b"]) == (2, 2), "the renewed values are cached"
    stats = store.stats()
    assert (stats.refreshes, stats.stale_served) == (2, 0)


def test_a_read_at_the_very_moment_a_value_is_due_refreshes_it(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    executor = QueuedExecutor()
    backend.write_external("a", "v1")
    store = make_store(ttl=100, refresh_ahead=0.2, executor=executor)
    store.get("a")
    backend.write_external("a", "v2")
    due = store._cache.entries["a"].refresh_at  # type: ignore[union-attr]  # drawn at random
    clock.advance(due - clock.monotonic())
    assert clock.monotonic() == due
    assert store.get("a").value.reveal() == "v1"
    assert executor.run_all() == 1, "a read at the refresh moment starts the refresh"
    assert backend.reads["a"] == 2, "the refresh reads the backend (it is not yet renewed)"
    assert store.get("a").value.reveal() == "v2"


def test_a_background_refresh_is_retried_by_the_stores_retry_policy(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    executor = QueuedExecutor()
    backend.write_external("a", "v1")
    store = make_store(ttl=100, refresh_ahead=0.2, executor=executor,
                       retry=RetryPolicy(max_attempts=2))
    store.get("a")
    backend.write_external("a", "v2")
    clock.advance(90)
    store.get("a")
    backend.fail_next(1, UnavailableError)
    assert executor.run_all() == 1
    assert store.stats().retries == 1
    assert store.get("a").value.reveal() == "v2", "the retried refresh renewed the value"
    assert backend.reads["a"] == 3


def test_a_failed_background_refresh_is_logged_by_name_and_error_type_only(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    executor = QueuedExecutor()
    value = canary("refresh")
    backend.write_external("app/db", value)
    store = make_store(ttl=100, refresh_ahead=0.2, executor=executor)
    store.get("app/db")
    clock.advance(90)
    store.get("app/db")
    backend.fail_next(1, PermissionDeniedError)
    caplog.set_level(logging.DEBUG, logger="helium_secrets")
    assert executor.run_all() == 1
    messages = [r.getMessage() for r in caplog.records if r.name == "helium_secrets"]
    assert "background refresh of 'app/db' failed: PermissionDeniedError" in messages
    assert not [m for m in messages if value in m]
    assert store.get("app/db").value.reveal() == value, "the cached value stays"


# -- stale-if-error ------------------------------------------------------------------------


@pytest.mark.parametrize("error", [UnavailableError, ThrottledError])
def test_stale_if_error_serves_the_expired_value_up_to_its_limit(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock,
    error: type[HeliumError],
) -> None:
    events: list[AuditEvent] = []
    value = canary("stale")
    backend.write_external("a", value)
    store = make_store(ttl=10, stale_if_error=30, audit=(events.append,))
    first = store.get("a")
    clock.advance(10)  # expired

    backend.fail_next(1, error)
    assert store.get("a") is first
    assert store.stats().stale_served == 1
    assert events[-1].cache == "stale"
    assert events[-1].outcome == "ok"

    clock.advance(30)  # exactly the limit past expiry: still served
    backend.fail_next(1, error)
    assert store.get("a") is first

    clock.advance(0.5)  # past it: the error surfaces
    backend.fail_next(1, error)
    with pytest.raises(error) as info:
        store.get("a")
    assert value not in str(info.value) and value not in repr(info.value)
    assert store.stats().stale_served == 2

    # Once the backend answers again, the fresh value is fetched and cached.
    assert store.get("a").version == first.version
    assert backend.reads["a"] == 5
    store.get("a")
    assert backend.reads["a"] == 5


@pytest.mark.parametrize("error", [PermissionDeniedError, UnauthenticatedError])
def test_stale_if_error_never_masks_a_permanent_error(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock,
    error: type[HeliumError],
) -> None:
    backend.write_external("a", "v1")
    store = make_store(ttl=10, stale_if_error=30)
    store.get("a")
    clock.advance(10)
    backend.fail_next(1, error)
    with pytest.raises(error):
        store.get("a")
    assert store.stats().stale_served == 0


def test_a_secret_deleted_elsewhere_is_not_served_stale(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("a", "v1")
    store = make_store(ttl=10, stale_if_error=30)
    store.get("a")
    backend.delete("a")
    clock.advance(10)
    with pytest.raises(SecretNotFoundError):
        store.get("a")


def test_stale_if_error_zero_turns_it_off(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("a", "v1")
    store = make_store(ttl=10, stale_if_error=0)
    store.get("a")
    clock.advance(10.5)
    backend.fail_next(1)
    with pytest.raises(UnavailableError):
        store.get("a")


def test_stale_if_error_zero_serves_nothing_stale_even_at_the_moment_of_expiry(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("a", "v1")
    store = make_store(ttl=10, stale_if_error=0)
    store.get("a")
    clock.advance(10)
    backend.fail_next(1)
    with pytest.raises(UnavailableError):
        store.get("a")


# -- negative caching ----------------------------------------------------------------------


def test_not_found_is_remembered_for_negative_ttl(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    events: list[AuditEvent] = []
    store = make_store(negative_ttl=5, audit=(events.append,))
    with pytest.raises(SecretNotFoundError):
        store.get("a")
    backend.write_external("a", "v1")  # created elsewhere: unseen for negative_ttl
    clock.advance(4.5)
    with pytest.raises(SecretNotFoundError, match="cached answer") as info:
        store.get("a")
    assert type(info.value) is SecretNotFoundError
    assert info.value.name == "a"
    assert backend.reads["a"] == 1
    assert events[-1].cache == "negative"
    assert events[-1].error_code == "not_found"
    clock.advance(0.5)
    assert store.get("a").value.reveal() == "v1"
    stats = store.stats()
    assert (stats.negative_hits, stats.misses, stats.backend_calls) == (1, 2, 2)


def test_the_stores_own_write_replaces_a_remembered_not_found(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    store = make_store(negative_ttl=5)
    with pytest.raises(SecretNotFoundError):
        store.get("a")
    store.put("a", "v1")
    assert store.get("a").value.reveal() == "v1"  # the write dropped the remembered not-found
    assert backend.reads["a"] == 2


def test_negative_ttl_zero_turns_it_off(make_store: MakeStore, backend: ControlledBackend) -> None:
    store = make_store(negative_ttl=0)
    for _ in range(3):
        with pytest.raises(SecretNotFoundError):
            store.get("a")
    assert backend.reads["a"] == 3
    assert store.stats().negative_hits == 0


def test_a_missing_version_is_not_remembered_and_does_not_touch_the_current_one(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    backend.write_external("a", "v1")
    store = make_store(negative_ttl=5)
    for _ in range(2):
        with pytest.raises(VersionNotFoundError):
            store.get("a", "99")
    assert backend.reads["a"] == 2
    assert store.get("a").value.reveal() == "v1"


# -- the store's own writes, eviction, refresh and clear ----------------------------------


def test_own_writes_and_deletes_invalidate(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    store = make_store(ttl=100)
    store.put("a", "v1")
    assert store.get("a").value.reveal() == "v1"
    store.put("a", "v2")
    assert store.get("a").value.reveal() == "v2"
    assert store.get("a").value.reveal() == "v2"
    assert backend.reads["a"] == 2  # one read after each write, then hits
    store.delete("a")
    with pytest.raises(SecretNotFoundError):
        store.get("a")
    assert backend.reads["a"] == 3


@pytest.mark.parametrize("write", ["put", "delete", "create"])
def test_a_read_in_flight_never_caches_over_the_stores_own_write(
    make_store: MakeStore, backend: ControlledBackend, write: str
) -> None:
    if write != "create":
        backend.write_external("a", "old")
    store = make_store(ttl=100, negative_ttl=100)
    hold = backend.hold("a", read_first=True)
    with ThreadPoolExecutor(1) as pool:
        reader = pool.submit(store.get, "a")
        hold.wait_entered()  # it has its answer and is on its way back
        try:
            if write == "delete":
                store.delete("a")
            else:
                store.put("a", "new")
        finally:
            hold.release()
        reader.exception(TIMEOUT)  # it began before the write: whatever it got is fine
    if write == "delete":
        with pytest.raises(SecretNotFoundError):
            store.get("a")
    else:
        assert store.get("a").value.reveal() == "new"


def test_the_cache_keeps_at_most_max_entries_dropping_the_one_fetched_longest_ago(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    for name in ("a", "b", "c"):
        backend.write_external(name, name)
    store = make_store(max_entries=2)
    store.get("a")
    store.get("b")
    store.get("a")  # a hit does not renew the entry: eviction is by fetch time
    store.get("c")  # full: a goes
    assert store.stats().evictions == 1
    assert store.stats().cached == 2
    store.get("b")
    assert backend.reads["b"] == 1
    store.get("a")
    assert backend.reads["a"] == 2
    assert store.stats().evictions == 2


def test_refresh_bypasses_the_cache_once(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    backend.write_external("a", "v1")
    store = make_store(ttl=100)
    store.get("a")
    backend.write_external("a", "v2")
    assert store.get("a").value.reveal() == "v1"
    assert store.refresh("a").value.reveal() == "v2"
    assert store.get("a").value.reveal() == "v2"
    assert backend.reads["a"] == 2
    assert store.stats().refreshes == 1


def test_clear_cache_forgets_values_and_not_found_answers(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    backend.write_external("a", "v1")
    store = make_store(ttl=100, negative_ttl=100)
    store.get("a")
    with pytest.raises(SecretNotFoundError):
        store.get("b")
    backend.write_external("b", "v1")
    store.clear_cache()
    assert store.stats().cached == 0
    store.get("a")
    assert store.get("b").value.reveal() == "v1"
    assert (backend.reads["a"], backend.reads["b"]) == (2, 2)


# -- request coalescing --------------------------------------------------------------------


def test_concurrent_misses_make_one_backend_call(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    backend.write_external("app/db", "v1")
    store = make_store(ttl=100)
    futures = _concurrent_gets(store, backend, "app/db")
    results = [future.result(TIMEOUT) for future in futures]
    assert backend.reads["app/db"] == 1
    assert all(result is results[0] for result in results)
    stats = store.stats()
    assert (stats.misses, stats.coalesced, stats.backend_calls) == (1, THREADS - 1, 1)
    store.get("app/db")  # and the answer is cached
    assert backend.reads["app/db"] == 1


def test_concurrent_misses_share_one_error_each_getting_its_own_exception(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    backend.write_external("a", "v1")
    store = make_store(ttl=100)
    backend.fail_next(1, PermissionDeniedError)
    futures = _concurrent_gets(store, backend, "a")
    errors = [future.exception(TIMEOUT) for future in futures]
    assert backend.reads["a"] == 1
    assert all(isinstance(error, PermissionDeniedError) for error in errors)
    assert len({id(error) for error in errors}) == THREADS  # no shared traceback
    assert all(error is not None and (error.name, error.backend) == ("a", "memory")
               for error in errors if isinstance(error, HeliumError))


def test_concurrent_misses_of_a_missing_secret_make_one_call_and_remember_it(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    store = make_store(ttl=100, negative_ttl=5)
    futures = _concurrent_gets(store, backend, "nope")
    assert all(isinstance(future.exception(TIMEOUT), SecretNotFoundError) for future in futures)
    with pytest.raises(SecretNotFoundError):
        store.get("nope")
    assert backend.reads["nope"] == 1


def test_every_coalesced_read_is_audited(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    events: list[AuditEvent] = []
    backend.write_external("a", "v1")
    store = make_store(ttl=100, audit=(events.append,))
    for future in _concurrent_gets(store, backend, "a"):
        future.result(TIMEOUT)
    gets = [event for event in events if event.operation == "get"]
    assert len(gets) == THREADS
    assert sorted(event.cache or "" for event in gets) == ["coalesced"] * (THREADS - 1) + ["miss"]


# -- stats and audit events ----------------------------------------------------------------


def test_audit_events_carry_the_cache_outcome_and_never_the_value(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    events: list[AuditEvent] = []
    value = canary("audit")
    backend.write_external("a", value)
    store = make_store(ttl=10, stale_if_error=30, audit=(events.append,))
    store.get("a")  # miss
    store.get("a")  # hit
    clock.advance(10)
    backend.fail_next(1)
    store.get("a")  # stale
    with pytest.raises(SecretNotFoundError):
        store.get("b")  # miss, not found
    with pytest.raises(SecretNotFoundError):
        store.get("b")  # negative
    seen = [(e.operation, e.name, e.cache, e.outcome, e.error_code, e.attempts) for e in events]
    assert seen == [
        ("get", "a", "miss", "ok", None, 1),
        ("get", "a", "hit", "ok", None, 0),
        ("get", "a", "miss", "error", "unavailable", 1),  # the failed fetch...
        ("get", "a", "stale", "ok", None, 0),  # ...and the stale value served instead
        ("get", "b", "miss", "error", "not_found", 1),
        ("get", "b", "negative", "error", "not_found", 0),
    ]
    assert events[0].version == events[1].version == "1"
    assert all(value not in repr(event.as_dict()) for event in events)


def test_stats_count_every_outcome(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    for name in ("a", "b", "c"):
        backend.write_external(name, name)
    store = make_store(ttl=10, stale_if_error=30, negative_ttl=5, max_entries=3)
    store.get("a")  # miss
    store.get("a")  # hit
    with pytest.raises(SecretNotFoundError):
        store.get("x")  # miss, error
    with pytest.raises(SecretNotFoundError):
        store.get("x")  # negative hit
    store.get("b")  # miss
    store.get("c")  # miss: the cache is full (a, x, b), a goes
    store.refresh("b")  # refresh, miss
    clock.advance(10)
    backend.fail_next(1)
    store.get("c")  # miss, error, stale
    stats = store.stats()
    assert stats.as_dict() == {
        "hits": 1,
        "misses": 6,
        "negative_hits": 1,
        "stale_served": 1,
        "coalesced": 0,
        "refreshes": 1,
        "backend_calls": 6,
        "retries": 0,
        "errors": 2,
        "evictions": 1,
        "guard_trips": 0,
        "rotations_polled": 0,
        "callback_errors": 0,
        "cached": 3,
    }


# -- a fleet's refreshes (benchmarks/fleet.py showed both defects) ----------------------------


def _fill_at_once(count: int, now: float, policy: CachePolicy) -> list[float]:
    """The refresh moments of ``count`` values fetched cold at the same ``now`` (as a fleet of
    stores started together fetches them)."""
    secret = Secret(name="a", value=SecretValue(canary("fleet")), version="1")
    moments = []
    for _ in range(count):
        cache = SecretCache(policy)
        cache.put("a", secret, now=now)
        moments.append(cache.entries["a"].refresh_at - now)
    return moments


def test_values_fetched_together_are_refreshed_spread_over_the_ttl_not_in_one_wave() -> None:
    # Defect: a fleet started within seconds refreshed in waves inside refresh_ahead's window
    # (ttl x [0.8, 0.9]) for cycle after cycle: 5x the steady request rate, 15 minutes on.
    # A value fetched cold is first refreshed at a random moment of its period instead.
    policy = CachePolicy(ttl=100, refresh_ahead=0.2)
    moments = _fill_at_once(3000, 0.0, policy)
    assert all(0 <= moment <= 90 for moment in moments)
    per_tenth = [sum(1 for m in moments if 9 * k <= m < 9 * (k + 1)) for k in range(10)]
    assert max(per_tenth) <= 1.5 * 300, per_tenth


def test_a_refresh_held_back_keeps_its_place_in_the_cycle() -> None:
    # Defect: a refresh that came late (held back by an outage, or by a reader that came by
    # late) set the next one from the fetch, so everything an outage held back was refreshed
    # together at recovery and again one period later. The next one is now due one period
    # after this one was due.
    policy = CachePolicy(ttl=100, refresh_ahead=0.2)
    secret = Secret(name="a", value=SecretValue(canary("fleet")), version="1")
    cache = SecretCache(policy, rng=_constant(0.5))  # periods of 85 s
    cache.put("a", secret, now=0.0)
    due = cache.entries["a"].refresh_at
    cache.put("a", secret, now=due + 12.0)  # 12 s late
    assert cache.entries["a"].refresh_at == due + 85.0
    assert cache.entries["a"].expires_at == due + 12.0 + 100.0
    early = cache.entries["a"].refresh_at - 30.0
    cache.put("a", secret, now=early)  # an explicit refresh, before it was due: from now
    assert cache.entries["a"].refresh_at == early + 85.0
    cache.put("a", secret, now=early + 85.0 + 200.0)  # a whole period lost: no place to keep
    assert cache.entries["a"].refresh_at <= early + 85.0 + 200.0 + 85.0


def test_a_refresh_exactly_one_period_late_has_lost_its_place_in_the_cycle() -> None:
    # One period late is a whole period lost: the next refresh is at a random moment of the
    # period from now (half of it here), not due at once again.
    policy = CachePolicy(ttl=100, refresh_ahead=0.2)
    secret = Secret(name="a", value=SecretValue(canary("fleet")), version="1")
    cache = SecretCache(policy, rng=_constant(0.5))  # periods of 85 s
    cache.put("a", secret, now=0.0)
    due = cache.entries["a"].refresh_at
    assert due == 42.5
    cache.put("a", secret, now=due + 85.0)
    assert cache.entries["a"].refresh_at == due + 85.0 + 42.5


def test_without_refresh_ahead_a_value_is_refreshed_at_expiry_only() -> None:
    moments = _fill_at_once(50, 5.0, CachePolicy(ttl=100, refresh_ahead=0))
    assert moments == [100.0] * 50
