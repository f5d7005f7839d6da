"""Retry: transient codes only, full-jitter backoff, the per-call deadline, throttling hints,
per-call policies, and writes retried only when a retry cannot write twice.

The store's clock is a :class:`~tests.unit.clock.ManualClock`: retry waits are recorded and move
the clock instead of sleeping, and a backend call can be made to "take" clock time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from helium_secrets import AuditEvent, GuardPolicy, PollPolicy, RetryPolicy, SecretStore
from helium_secrets.backends._base import Classified
from helium_secrets.errors import (
    ConflictError,
    ErrorCode,
    HeliumError,
    PermissionDeniedError,
    SecretNotFoundError,
    ThrottledError,
    UnavailableError,
    UnknownError,
)
from helium_secrets.layers.retry import call_with_retry
from tests.unit.clock import ControlledBackend, ManualClock, canary

NO_GUARD = GuardPolicy(threshold=0)

MakeStore = Callable[..., SecretStore]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def backend(clock: ManualClock) -> ControlledBackend:
    return ControlledBackend(clock)


@pytest.fixture
def make_store(clock: ManualClock) -> Iterator[MakeStore]:
    """Stores on the manual clock, without a cache (every read reaches the backend) and
    without the fail-fast guard, so that only the retry layer acts."""
    made: list[SecretStore] = []

    def make(backend: ControlledBackend, retry: RetryPolicy | None = None,
             events: list[AuditEvent] | None = None) -> SecretStore:
        store = SecretStore(
            backend, cache=None, retry=retry or RetryPolicy(), guard=NO_GUARD,
            poll=PollPolicy(interval=None), clock=clock,
            audit=(events.append,) if events is not None else (),
        )
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


# -- what is retried -----------------------------------------------------------------------


def test_transient_failures_are_retried_until_success(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    events: list[AuditEvent] = []
    backend.write_external("a", "v1")
    store = make_store(backend, RetryPolicy(max_attempts=4), events)
    backend.fail_next(2)
    assert store.get("a").value.reveal() == "v1"
    assert backend.reads["a"] == 3
    assert len(clock.sleeps) == 2
    stats = store.stats()
    assert (stats.backend_calls, stats.retries, stats.errors) == (3, 2, 0)
    assert [(e.outcome, e.attempts) for e in events] == [("ok", 3)]


def test_retries_stop_after_max_attempts_with_the_last_error(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    events: list[AuditEvent] = []
    backend.write_external("a", "v1")
    store = make_store(backend, RetryPolicy(max_attempts=3), events)
    backend.fail_next(10)
    with pytest.raises(UnavailableError) as info:
        store.get("a")
    assert info.value.transient
    assert (info.value.name, info.value.backend) == ("a", "memory")
    assert backend.reads["a"] == 3
    assert len(clock.sleeps) == 2  # no wait after the last attempt
    stats = store.stats()
    assert (stats.backend_calls, stats.retries, stats.errors) == (3, 2, 1)
    assert [(e.outcome, e.error_code, e.attempts) for e in events] == [
        ("error", "unavailable", 3)
    ]


@pytest.mark.parametrize(
    "error",
    [
        PermissionDeniedError,
        Classified(ErrorCode.UNAVAILABLE, transient=False),  # the backend knows better
        Classified(ErrorCode.INVALID_ARGUMENT),
    ],
)
def test_permanent_errors_are_not_retried(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock,
    error: type[HeliumError] | Classified,
) -> None:
    backend.write_external("a", "v1")
    store = make_store(backend)
    backend.fail_next(1, error)
    with pytest.raises(HeliumError) as info:
        store.get("a")
    assert not info.value.transient
    assert backend.reads["a"] == 1
    assert clock.sleeps == []


def test_not_found_is_not_retried(make_store: MakeStore, backend: ControlledBackend) -> None:
    store = make_store(backend)
    with pytest.raises(SecretNotFoundError):
        store.get("nope")
    assert backend.reads["nope"] == 1


def test_an_error_a_backend_marks_transient_is_retried(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    backend.write_external("a", "v1")
    store = make_store(backend)
    backend.fail_next(1, Classified(ErrorCode.UNKNOWN, transient=True))
    assert store.get("a").value.reveal() == "v1"
    assert backend.reads["a"] == 2


def test_a_per_call_policy_overrides_the_stores(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    backend.write_external("a", "v1")
    store = make_store(backend, RetryPolicy(max_attempts=5))
    backend.fail_next(3)
    with pytest.raises(UnavailableError):
        store.get("a", retry=RetryPolicy.never())
    assert backend.reads["a"] == 1
    assert store.get("a", retry=RetryPolicy(max_attempts=3)).value.reveal() == "v1"
    assert backend.reads["a"] == 4
    backend.fail_next(1, operations=["put"])
    with pytest.raises(UnavailableError):
        store.put("a", "v2", retry=RetryPolicy.never())
    assert backend.calls["put"] == 1


# -- backoff -------------------------------------------------------------------------------


def test_backoff_is_full_jitter_under_a_doubling_cap() -> None:
    policy = RetryPolicy(initial_backoff=0.25, max_backoff=1.0)
    assert [policy.backoff(n, rng=lambda: 1.0) for n in (1, 2, 3, 4, 5)] == [
        0.25, 0.5, 1.0, 1.0, 1.0
    ]
    assert policy.backoff(3, rng=lambda: 0.0) == 0.0
    assert policy.backoff(2, rng=lambda: 0.5) == 0.25


def test_every_wait_is_within_its_cap(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("a", "v1")
    policy = RetryPolicy(max_attempts=8, initial_backoff=0.25, max_backoff=1.0, deadline=None)
    store = make_store(backend, policy)
    backend.fail_next(7)
    store.get("a")
    caps = [0.25, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert len(clock.sleeps) == len(caps)
    for wait, cap in zip(clock.sleeps, caps, strict=True):
        assert 0.0 <= wait <= cap


def test_retry_policies_are_immutable_values() -> None:
    policy = RetryPolicy()
    with pytest.raises(AttributeError):
        policy.max_attempts = 9  # type: ignore[misc]
    assert policy.replace(max_attempts=2) == RetryPolicy(max_attempts=2)
    assert policy == RetryPolicy()
    assert RetryPolicy.never().max_attempts == 1
    for bad in ({"max_attempts": 0}, {"initial_backoff": -1.0}, {"deadline": 0.0}):
        with pytest.raises(ValueError, match="RetryPolicy"):
            RetryPolicy(**bad)


# -- the deadline --------------------------------------------------------------------------


def test_the_deadline_bounds_the_whole_call_waits_included(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("a", "v1")
    policy = RetryPolicy(max_attempts=1000, initial_backoff=0.5, max_backoff=0.5, deadline=2.0)
    store = make_store(backend, policy)
    backend.fail_next(1000)
    started = clock.monotonic()
    with pytest.raises(UnavailableError):
        store.get("a")
    assert clock.monotonic() - started < 2.0  # no wait was begun that would cross it
    assert backend.reads["a"] >= 2  # the first wait (at most 0.5 s) always fits
    backend.clear_faults()


def test_the_deadline_counts_the_time_attempts_take(
    make_store: MakeStore, clock: ManualClock
) -> None:
    backend = ControlledBackend(clock, cost=0.75)  # each attempt takes 0.75 s
    backend.write_external("a", "v1")
    policy = RetryPolicy(max_attempts=1000, initial_backoff=0.25, max_backoff=0.25, deadline=2.0)
    store = make_store(backend, policy)
    backend.fail_next(1000)
    started = clock.monotonic()
    with pytest.raises(UnavailableError):
        store.get("a")
    # An attempt cannot be interrupted, but none starts once the deadline is reached, and no
    # wait crosses it: the call ends within the deadline plus one attempt.
    assert all(at - started < 2.0 for _, at in backend.started)
    assert clock.monotonic() - started <= 2.0 + 0.75
    backend.clear_faults()


def test_an_attempt_longer_than_the_deadline_is_not_retried(
    make_store: MakeStore, clock: ManualClock
) -> None:
    backend = ControlledBackend(clock, cost=3.0)
    backend.write_external("a", "v1")
    store = make_store(backend, RetryPolicy(max_attempts=5, deadline=2.0))
    backend.fail_next(1)
    with pytest.raises(UnavailableError):
        store.get("a")
    assert backend.reads["a"] == 1
    assert clock.sleeps == []


def test_no_deadline_means_only_max_attempts_stops(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("a", "v1")
    store = make_store(backend, RetryPolicy(max_attempts=6, initial_backoff=100,
                                            max_backoff=100, deadline=None))
    backend.fail_next(5)
    assert store.get("a").value.reveal() == "v1"
    assert backend.reads["a"] == 6


# -- throttling hints ----------------------------------------------------------------------


def test_retry_after_is_a_floor_on_the_wait(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("a", "v1")
    store = make_store(backend, RetryPolicy(max_attempts=4, initial_backoff=0.25))
    backend.fail_next(2, Classified(ErrorCode.THROTTLED, retry_after=3.0))
    assert store.get("a").value.reveal() == "v1"
    assert clock.sleeps == [3.0, 3.0]  # the backoff (at most 0.5 s) is below the hint


def test_backoff_longer_than_retry_after_wins(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("a", "v1")
    store = make_store(backend, RetryPolicy(initial_backoff=8.0, max_backoff=8.0))
    backend.fail_next(3, Classified(ErrorCode.THROTTLED, retry_after=0.0))
    store.get("a")
    assert len(clock.sleeps) == 3
    assert all(0.0 <= wait <= 8.0 for wait in clock.sleeps)


def test_retry_after_can_be_ignored(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("a", "v1")
    store = make_store(backend, RetryPolicy(initial_backoff=0.25, respect_retry_after=False))
    backend.fail_next(2, Classified(ErrorCode.THROTTLED, retry_after=30.0))
    store.get("a")
    assert len(clock.sleeps) == 2
    assert all(wait <= 0.5 for wait in clock.sleeps)


def test_a_hint_longer_than_max_retry_after_fails_at_once(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("a", "v1")
    store = make_store(backend, RetryPolicy(max_retry_after=60.0, deadline=None))
    backend.fail_next(1, Classified(ErrorCode.THROTTLED, retry_after=120.0))
    with pytest.raises(ThrottledError) as info:
        store.get("a")
    assert info.value.retry_after == 120.0  # the caller can still schedule its own retry
    assert backend.reads["a"] == 1
    assert clock.sleeps == []


def test_a_hint_past_the_deadline_fails_at_once(
    make_store: MakeStore, backend: ControlledBackend, clock: ManualClock
) -> None:
    backend.write_external("a", "v1")
    store = make_store(backend, RetryPolicy(deadline=5.0))
    backend.fail_next(1, Classified(ErrorCode.THROTTLED, retry_after=10.0))
    with pytest.raises(ThrottledError):
        store.get("a")
    assert backend.reads["a"] == 1
    assert clock.sleeps == []


# -- writes --------------------------------------------------------------------------------


def test_an_idempotent_put_is_retried_and_makes_one_version(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    store = make_store(backend)
    store.put("a", "v1")
    backend.lost_answers = 1  # written, but the answer is lost: the retry repeats the token
    written = store.put("a", "v2")
    assert backend.calls["put"] == 3
    assert backend.version_count("a") == 2
    assert written.version == "2"
    assert backend.current_value("a") == "v2"


def test_a_put_is_not_retried_where_a_retry_could_write_twice(
    make_store: MakeStore, clock: ManualClock
) -> None:
    backend = ControlledBackend(clock, idempotent_put=False)
    value = canary("put")
    store = make_store(backend, RetryPolicy(max_attempts=5))
    store.put("a", "v1")
    backend.lost_answers = 1
    with pytest.raises(UnavailableError) as info:
        store.put("a", value)
    assert value not in str(info.value) and value not in repr(info.value)
    assert backend.calls["put"] == 2
    assert backend.version_count("a") == 2  # written once, as the caller may check
    backend.fail_next(1, operations=["put"])
    with pytest.raises(UnavailableError):
        store.put("a", "v3")
    assert backend.calls["put"] == 3
    assert store.stats().retries == 0


def test_a_check_and_set_put_is_retried_even_without_tokens(
    make_store: MakeStore, clock: ManualClock
) -> None:
    backend = ControlledBackend(clock, idempotent_put=False)
    store = make_store(backend)
    first = store.put("a", "v1")
    backend.lost_answers = 1  # the first attempt wins; its retry conflicts with it
    written = store.put("a", "v2", expected_version=first.version)
    assert written.value.reveal() == "v2"
    assert backend.version_count("a") == 2
    assert backend.calls["put"] == 3


def test_a_create_only_put_is_retried_even_without_tokens(
    make_store: MakeStore, clock: ManualClock
) -> None:
    backend = ControlledBackend(clock, idempotent_put=False)
    store = make_store(backend)
    backend.lost_answers = 1
    written = store.put("a", "v1", create_only=True)
    assert written.value.reveal() == "v1"
    assert backend.version_count("a") == 1


def test_a_retried_check_and_set_put_still_refuses_someone_elses_write(
    make_store: MakeStore, clock: ManualClock
) -> None:
    backend = ControlledBackend(clock, idempotent_put=False)
    store = make_store(backend)
    first = store.put("a", "v1")
    backend.write_external("a", "someone else")
    backend.fail_next(1, operations=["put"])
    with pytest.raises(ConflictError):
        store.put("a", "v2", expected_version=first.version)
    assert backend.version_count("a") == 2
    assert backend.current_value("a") == "someone else"


def test_a_delete_whose_answer_was_lost_succeeds_on_retry(
    make_store: MakeStore, backend: ControlledBackend
) -> None:
    store = make_store(backend)
    store.put("a", "v1")
    backend.lost_answers = 1
    store.delete("a")  # the retry finds it gone: that is the success it was waiting for
    assert backend.calls["delete"] == 2
    with pytest.raises(SecretNotFoundError):
        store.delete("a")


# -- the retry function itself ---------------------------------------------------------------


def test_call_with_retry_lets_non_helium_errors_through_at_once(clock: ManualClock) -> None:
    calls = 0

    def boom() -> None:
        nonlocal calls
        calls += 1
        raise KeyError("not ours")

    with pytest.raises(KeyError):
        call_with_retry(boom, RetryPolicy(), clock)
    assert calls == 1


def test_call_with_retry_reports_each_retry_and_its_wait(clock: ManualClock) -> None:
    seen: list[tuple[str, float]] = []
    outcomes: list[Exception | str] = [UnavailableError("x"), UnknownError("y", transient=True),
                                       "done"]

    def flaky() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    result = call_with_retry(flaky, RetryPolicy(), clock,
                             on_retry=lambda exc, wait: seen.append((exc.code.value, wait)))
    assert result == "done"
    assert [code for code, _ in seen] == ["unavailable", "unknown"]
    assert [wait for _, wait in seen] == clock.sleeps


def _failing_then(errors: list[HeliumError]) -> Callable[[], str]:
    def call() -> str:
        if errors:
            raise errors.pop(0)
        return "done"
    return call


def test_a_hint_of_exactly_the_largest_accepted_wait_is_waited_for(clock: ManualClock) -> None:
    policy = RetryPolicy(initial_backoff=0, max_backoff=0, deadline=None, max_retry_after=2.0)
    call = _failing_then([ThrottledError("slow down", retry_after=2.0)])
    assert call_with_retry(call, policy, clock) == "done"  # no on_retry: none is needed
    assert clock.sleeps == [2.0]
    with pytest.raises(ThrottledError):
        call_with_retry(_failing_then([ThrottledError("slow", retry_after=2.001)]), policy, clock)


def test_a_wait_that_would_end_at_the_deadline_is_not_started(clock: ManualClock) -> None:
    policy = RetryPolicy(initial_backoff=0, max_backoff=0, deadline=1.0)
    with pytest.raises(ThrottledError):
        call_with_retry(_failing_then([ThrottledError("slow", retry_after=1.0)]), policy, clock)
    assert clock.sleeps == []
    assert call_with_retry(_failing_then([ThrottledError("slow", retry_after=0.999)]), policy,
                           clock) == "done"
    assert clock.sleeps == [0.999]
