"""The fail-fast guard: it trips after consecutive transient failures, refuses calls (serving
stale values where the cache allows) for a cool-down, then lets one trial call through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from helium_secrets import AuditEvent, CachePolicy, GuardPolicy, PollPolicy, RetryPolicy, SecretStore
from helium_secrets.backends._base import Classified
from helium_secrets.errors import (
    ErrorCode,
    PermissionDeniedError,
    SecretNotFoundError,
    ThrottledError,
    UnavailableError,
)
from helium_secrets.layers.guard import FailFastGuard
from tests.unit.clock import TIMEOUT, ControlledBackend, ManualClock

MakeStore = Callable[..., SecretStore]

GUARD = GuardPolicy(threshold=3, cooldown=10.0)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def backend(clock: ManualClock) -> ControlledBackend:
    backend = ControlledBackend(clock)
    backend.write_external("a", "v1")
    backend.write_external("b", "v1")
    return backend


@pytest.fixture
def make_store(backend: ControlledBackend, clock: ManualClock) -> Iterator[MakeStore]:
    """A store with the guard above, no retries (one failed call is one failed attempt) and,
    unless a test asks for a cache, no cache."""
    made: list[SecretStore] = []

    def make(
        *,
        guard: GuardPolicy = GUARD,
        retry: RetryPolicy | None = None,
        events: list[AuditEvent] | None = None,
        **cache: Any,
    ) -> SecretStore:
        store = SecretStore(
            backend,
            cache=CachePolicy(**{"refresh_ahead": 0.0, **cache}) if cache else None,
            retry=retry or RetryPolicy.never(),
            guard=guard,
            poll=PollPolicy(interval=None),
            audit=(events.append,) if events is not None else (),
            clock=clock,
        )
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def _fail(store: SecretStore, backend: ControlledBackend, times: int, name: str = "a") -> None:
    """Make ``times`` calls that reach the backend and fail with a transient error."""
    for _ in range(times):
        backend.fail_next(1)
        with pytest.raises(UnavailableError):
            store.get(name)


def test_the_guard_trips_after_consecutive_failures_and_refuses_calls(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    events: list[AuditEvent] = []
    store = make_store(events=events)
    _fail(store, backend, 3)
    assert backend.reads["a"] == 3
    assert store.stats().guard_trips == 1
    with pytest.raises(UnavailableError, match="paused") as info:
        store.get("a")
    assert info.value.transient
    assert backend.reads["a"] == 3  # refused without reaching the backend
    assert (events[-1].outcome, events[-1].error_code, events[-1].attempts) == (
        "error", "unavailable", 0,
    )
    assert store.stats().errors == 4


def test_every_operation_is_refused_while_it_is_open(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    store = make_store()
    _fail(store, backend, 3)
    before = sum(backend.calls.values())
    operations: list[Callable[[], object]] = [
        lambda: store.get("b"),
        lambda: store.put("b", "v2"),
        lambda: store.delete("b"),
        lambda: list(store.list()),
        lambda: store.versions("b"),
        lambda: store.current_version("b"),
    ]
    for operation in operations:
        with pytest.raises(UnavailableError, match="paused"):
            operation()
    assert sum(backend.calls.values()) == before


def test_a_success_resets_the_count(make_store: MakeStore, backend: ControlledBackend) -> None:
    store = make_store()
    _fail(store, backend, 2)
    store.get("a")
    _fail(store, backend, 2)
    store.get("a")
    assert store.stats().guard_trips == 0
    assert backend.reads["a"] == 6


@pytest.mark.parametrize("error", [PermissionDeniedError, SecretNotFoundError])
def test_permanent_errors_mean_the_backend_answered(
    make_store: MakeStore, backend: ControlledBackend, error: type[Exception]
) -> None:
    store = make_store()
    _fail(store, backend, 2)
    backend.fail_next(1, error)  # type: ignore[arg-type]
    with pytest.raises(error):
        store.get("a")
    _fail(store, backend, 2)
    assert store.stats().guard_trips == 0


def test_it_counts_failed_attempts_and_stops_retrying_once_open(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    # A dead backend sees the threshold of attempts, not threshold x retries.
    store = make_store(guard=GuardPolicy(threshold=2, cooldown=10.0),
                       retry=RetryPolicy(max_attempts=3))
    backend.fail_next(6)
    with pytest.raises(UnavailableError):
        store.get("a")
    assert store.stats().guard_trips == 1
    assert backend.reads["a"] == 2, "the third attempt is not made once the guard is open"
    with pytest.raises(UnavailableError, match="paused"):
        store.get("a")
    assert backend.reads["a"] == 2


def test_stale_values_are_served_while_it_is_open(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    store = make_store(ttl=10.0, stale_if_error=60.0)
    first = store.get("a")
    clock.advance(10)
    _fail(store, backend, 3, name="b")  # trip it through another secret
    assert store.get("a") is first  # expired, refused, served stale
    assert backend.reads["a"] == 1
    assert store.stats().stale_served == 1


def test_fresh_cache_hits_are_served_while_it_is_open(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    store = make_store(ttl=100.0)
    first = store.get("a")
    _fail(store, backend, 3, name="b")
    assert store.get("a") is first
    assert store.stats().hits == 1


def test_past_the_stale_limit_the_refusal_surfaces(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    store = make_store(ttl=10.0, stale_if_error=5.0, guard=GuardPolicy(threshold=3, cooldown=60))
    store.get("a")
    clock.advance(15.5)
    _fail(store, backend, 3, name="b")
    with pytest.raises(UnavailableError, match="paused"):
        store.get("a")
    assert backend.reads["a"] == 1


def test_after_the_cooldown_a_successful_trial_closes_it(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    store = make_store()
    _fail(store, backend, 3)
    clock.advance(9.5)
    with pytest.raises(UnavailableError, match="paused"):
        store.get("a")
    clock.advance(0.5)
    assert store.get("a").value.reveal() == "v1"  # the trial
    assert store.get("b").value.reveal() == "v1"  # closed: calls flow again
    assert (backend.reads["a"], backend.reads["b"]) == (4, 1)
    _fail(store, backend, 2)  # and the count starts over
    store.get("a")
    assert store.stats().guard_trips == 1


def test_a_failed_trial_opens_it_for_another_cooldown(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    store = make_store()
    _fail(store, backend, 3)
    clock.advance(10)
    _fail(store, backend, 1)  # the trial fails
    assert store.stats().guard_trips == 2
    with pytest.raises(UnavailableError, match="paused"):
        store.get("a")
    assert backend.reads["a"] == 4
    clock.advance(10)
    assert store.get("a").value.reveal() == "v1"


def test_one_trial_at_a_time(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    store = make_store()
    _fail(store, backend, 3)
    clock.advance(10)
    hold = backend.hold("a")
    with ThreadPoolExecutor(1) as pool:
        trial = pool.submit(store.get, "a")
        try:
            hold.wait_entered()  # the trial is at the backend...
            with pytest.raises(UnavailableError):
                store.get("b")  # ...so this call is refused
            assert backend.reads["b"] == 0
        finally:
            hold.release()
        assert trial.result(TIMEOUT).value.reveal() == "v1"
    assert store.get("b").value.reveal() == "v1"


def test_threshold_zero_turns_it_off(make_store: MakeStore, backend: ControlledBackend) -> None:
    store = make_store(guard=GuardPolicy(threshold=0))
    _fail(store, backend, 20)
    assert store.get("a").value.reveal() == "v1"
    assert store.stats().guard_trips == 0


def _is_open(guard: FailFastGuard) -> bool:
    return guard.is_open  # (read through a call: mypy would narrow the property)


def test_the_guard_object() -> None:
    guard = FailFastGuard(GuardPolicy(threshold=2, cooldown=5.0))
    assert guard.admit(0.0) is None
    guard.record_failure(0.0)
    assert not _is_open(guard)
    guard.record_failure(1.0)
    assert _is_open(guard)
    assert guard.admit(2.0) == 4.0  # seconds left
    assert guard.admit(6.0) is None  # the trial
    assert guard.admit(6.0) == 0.0  # only one
    guard.record_success()
    assert not _is_open(guard)
    assert guard.admit(6.0) is None
    assert guard.trips == 1


def test_guard_policies_are_immutable_values() -> None:
    policy = GuardPolicy()
    assert (policy.threshold, policy.cooldown) == (5, 5.0)
    assert policy.replace(cooldown=1.0) == GuardPolicy(cooldown=1.0)
    with pytest.raises(AttributeError):
        policy.threshold = 1  # type: ignore[misc]


def test_policy_rejects_negative_settings() -> None:
    with pytest.raises(ValueError, match="threshold"):
        GuardPolicy(threshold=-1)
    with pytest.raises(ValueError, match="cooldown"):
        GuardPolicy(cooldown=-0.5)


def test_a_trial_call_interrupted_by_a_base_exception_does_not_keep_the_guard_open(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    class Interrupt(BaseException):  # KeyboardInterrupt, a gevent Timeout
        pass

    store = make_store(guard=GuardPolicy(threshold=1, cooldown=10.0))
    backend.fail_next(1)
    with pytest.raises(UnavailableError):
        store.get("a")
    clock.advance(11)
    original = backend.get

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise Interrupt()

    backend.get = interrupted  # type: ignore[method-assign]
    with pytest.raises(Interrupt):
        store.get("a")  # the trial call
    backend.get = original  # type: ignore[method-assign]
    for _ in range(5):
        assert store.get("a").value.reveal() == "v1", "the next call is the trial, and it works"


def test_a_threshold_of_1_trips_at_the_first_failure_also_after_a_fork() -> None:
    guard = FailFastGuard(GuardPolicy(threshold=1, cooldown=10))
    guard.after_fork_in_child()  # a fresh lock that works like the old one
    guard.record_failure(100.0)
    assert guard.trips == 1
    assert guard.admit(104.0) == 6.0
    assert guard.admit(110.0) is None  # the trial
    assert guard.admit(110.0) == 0.0  # one at a time
    guard.record_success()
    assert not guard.is_open and guard.admit(111.0) is None


def test_a_failure_in_flight_that_trips_the_guard_as_the_hint_ends_keeps_the_hints_reason(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    # The guard trips (threshold 2) on an attempt that was at the backend while another
    # call's answer asked for a pause as long as the cool-down: the pause is the service's.
    store = make_store(guard=GuardPolicy(threshold=2, cooldown=10.0))
    hold = backend.hold("a")
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(store.get, "a")
        try:
            hold.wait_entered()
            backend.fail_next(1, Classified(ErrorCode.THROTTLED, "throttled", retry_after=10.0))
            with pytest.raises(ThrottledError):
                store.get("b")
            backend.fail_next(1)
        finally:
            hold.release()
        with pytest.raises(UnavailableError, match="^unavailable"):
            in_flight.result(TIMEOUT)
    assert store.stats().guard_trips == 1
    with pytest.raises(UnavailableError) as info:
        store.get("b")
    assert str(info.value).startswith(
        "calls to the backend are paused for 10.0s as the service asked (Retry-After)")


def test_a_guard_says_whether_its_pause_is_a_hint_until_a_success_closes_it() -> None:
    guard = FailFastGuard(GuardPolicy(threshold=3, cooldown=1.0, max_retry_after=60))
    hints: list[bool] = [guard.hinted]  # a fresh guard: no pause at all
    guard.record_failure(0.0, retry_after=30.0)  # below the threshold, but the service asked
    hints.append(guard.hinted)
    assert guard.admit(1.0) == pytest.approx(29.0)
    guard.record_success()
    hints.append(guard.hinted)
    assert guard.admit(1.0) is None
    assert hints == [False, True, False]
