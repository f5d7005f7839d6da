"""A service's Retry-After holds for the whole store: once an answer asks for a pause, no
attempt of any kind (a read, a refresh-ahead, a probe of the rotation poller, a batch, a write)
reaches the backend before it is over, and the store fails fast meanwhile, saying how long is
left. The fail-fast guard holds the pause (at least its cool-down once it has tripped; at most
``GuardPolicy.max_retry_after``); the retry that waited out the hint is the trial after it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Executor, Future
from typing import Any

import pytest

from helium_secrets import (
    AsyncSecretStore,
    CachePolicy,
    GuardPolicy,
    PollPolicy,
    RetryPolicy,
    SecretStore,
)
from helium_secrets.backends._base import Classified
from helium_secrets.backends.aio import DirectBackend
from helium_secrets.backends.memory import InjectedFault
from helium_secrets.errors import ErrorCode, ThrottledError, UnavailableError
from helium_secrets.layers.guard import FailFastGuard
from tests.unit.clock import ControlledBackend, ManualClock

STORM_AT = 1095.0  # the clock starts at 1000; secrets are cached (TTL 100) at 1000
HINT = 10.0
SHORT_COOLDOWN = GuardPolicy(threshold=5, cooldown=5.0)  # shorter than the hint
DEFAULT_RETRY = RetryPolicy()
ONE_ATTEMPT = RetryPolicy.never()


class ThrottlingService(ControlledBackend):
    """Answers every call from ``storm_at`` to ``storm_at + storm_for`` with 429 and a
    Retry-After of ``hint`` seconds (as a throttled service does), and records when each call
    of any kind arrives."""

    def __init__(self, clock: ManualClock, *, storm_for: float = HINT, hint: float = HINT,
                 code: ErrorCode = ErrorCode.THROTTLED) -> None:
        super().__init__(clock)
        self.clock = clock
        self.storm = (STORM_AT, STORM_AT + storm_for)
        self.hint = hint
        self.code = code
        self.arrivals: list[tuple[str, float]] = []

    def _enter(self, operation: str) -> None:
        now = self.clock.monotonic()
        self.arrivals.append((operation, now))
        if self.storm[0] <= now < self.storm[1]:
            raise InjectedFault(Classified(self.code, "throttled", retry_after=self.hint))
        super()._enter(operation)

    def arrived_between(self, start: float, end: float) -> list[tuple[str, float]]:
        """The calls that arrived strictly inside ``(start, end)``."""
        return [(op, at) for op, at in self.arrivals if start < at < end]


class InlineExecutor(Executor):
    """Runs the store's background refreshes at once, in the test's thread."""

    def __init__(self) -> None:
        self.jobs = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.jobs += 1
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def service(clock: ManualClock) -> ThrottlingService:
    service = ThrottlingService(clock)
    for name in ("cached", "x", "y", "z"):
        service.write_external(name, f"value of {name}")
    return service


MakeStore = Callable[..., SecretStore]


@pytest.fixture
def make_store(service: ThrottlingService, clock: ManualClock) -> Iterator[MakeStore]:
    """Stores with the default retry policy and a guard whose cool-down (5 s) is shorter than
    the service's hint (10 s)."""
    made: list[SecretStore] = []

    def make(guard: GuardPolicy = SHORT_COOLDOWN, retry: RetryPolicy = DEFAULT_RETRY,
             executor: Executor | None = None) -> SecretStore:
        store = SecretStore(service, clock=clock, guard=guard, retry=retry,
                            cache=CachePolicy(ttl=100.0, refresh_ahead=0.2, stale_if_error=600),
                            poll=PollPolicy(interval=None), executor=executor)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def _throttle(store: SecretStore, clock: ManualClock,
              retry: RetryPolicy = ONE_ATTEMPT) -> ThrottledError:
    """Move to the storm and make the call that gets the 429 (one attempt: nothing waits)."""
    clock.advance(STORM_AT - clock.monotonic())
    with pytest.raises(ThrottledError) as info:
        store.get("x", retry=retry)
    return info.value


def _refused(call: Callable[[], object]) -> UnavailableError:
    with pytest.raises(UnavailableError, match="paused") as info:
        call()
    return info.value


def test_no_path_reaches_the_backend_before_the_hint_is_over(
    make_store: MakeStore, service: ThrottlingService, clock: ManualClock
) -> None:
    executor = InlineExecutor()
    store = make_store(executor=executor)
    cached = store.get("cached")  # cached at 1000 until 1100, due for a refresh before 1095
    store.on_rotation("cached", lambda old, new: None)
    error = _throttle(store, clock)
    assert error.retry_after == HINT  # what the service said reaches the caller

    clock.advance(1.0)  # 1096: the cached value is fresh but due: a refresh-ahead is started
    assert store.get("cached") is cached
    assert executor.jobs == 1
    # A read of an uncached secret, a batch, a write, a probe, with the store's own retries:
    # each fails at once, without an attempt and without waiting, and says how long is left.
    refused = _refused(lambda: store.get("y"))
    assert refused.transient and refused.retry_after == pytest.approx(HINT - 1.0)
    _refused(lambda: store.get_many(["y", "z"]))
    _refused(lambda: store.put("y", "new value"))
    assert store.rotation.poll_once() is False  # the poller's probe is refused too
    clock.advance(3.0)  # 1099: past the 5 s cool-down the guard would use on its own
    _refused(lambda: store.get("z"))
    clock.advance(2.0)  # 1101: expired, served stale while the pause lasts
    assert store.get("cached") is cached
    assert store.stats().stale_served == 1
    assert clock.sleeps == []

    assert service.arrived_between(STORM_AT, STORM_AT + HINT) == []
    clock.advance(STORM_AT + HINT - clock.monotonic())  # 1105: the pause is over
    assert store.get("y").value.reveal() == "value of y"  # the trial, and it succeeds
    assert store.put("z", "new value").version
    assert store.get("cached").value.reveal() == "value of cached"


def test_a_call_that_retries_waits_the_hint_and_its_retry_is_the_trial(
    make_store: MakeStore, service: ThrottlingService, clock: ManualClock
) -> None:
    store = make_store()
    clock.advance(STORM_AT - clock.monotonic())
    assert store.get("x").value.reveal() == "value of x"
    assert clock.sleeps == [HINT]
    assert [at for _, at in service.arrivals] == [STORM_AT, STORM_AT + HINT]


def test_a_call_that_trips_the_guard_for_longer_than_the_hint_fails_at_once_without_retrying(
    make_store: MakeStore, service: ThrottlingService, clock: ManualClock
) -> None:
    # The first 429 trips the guard (threshold 1) for its 30 s cool-down; the service asked
    # for 10 s. A retry that waited the hint would only be refused by the guard: the call
    # gives up at once, with the service's own error.
    store = make_store(guard=GuardPolicy(threshold=1, cooldown=30.0))
    clock.advance(STORM_AT - clock.monotonic())
    with pytest.raises(ThrottledError) as info:
        store.get("x")
    assert info.value.retry_after == HINT
    assert clock.sleeps == []
    assert [at for _, at in service.arrivals] == [STORM_AT]
    assert store.stats().retries == 0
    clock.advance(HINT)
    assert _refused(lambda: store.get("x")).retry_after == pytest.approx(30.0 - HINT)


def test_a_hint_longer_than_the_cooldown_holds_a_tripped_guard_open(
    make_store: MakeStore, service: ThrottlingService, clock: ManualClock
) -> None:
    # The guard trips at the first 429 (threshold 1) and would let a trial through after its
    # 5 s cool-down; the service asked for 10 s.
    store = make_store(guard=GuardPolicy(threshold=1, cooldown=5.0), retry=RetryPolicy.never())
    _throttle(store, clock)
    for _ in range(9):
        clock.advance(1.0)
        _refused(lambda: store.get("y"))
    assert service.arrived_between(STORM_AT, STORM_AT + HINT) == []
    clock.advance(1.0)
    assert store.get("y").value.reveal() == "value of y"
    assert store.stats().guard_trips == 1


def test_a_503_with_retry_after_pauses_the_store_too(clock: ManualClock) -> None:
    service = ThrottlingService(clock, code=ErrorCode.UNAVAILABLE)
    service.write_external("y", "v")
    with SecretStore(service, clock=clock, retry=RetryPolicy.never(),
                     poll=PollPolicy(interval=None)) as store:
        clock.advance(STORM_AT - clock.monotonic())
        with pytest.raises(UnavailableError):
            store.get("y")
        clock.advance(HINT - 0.5)
        _refused(lambda: store.get("y"))
        assert service.arrived_between(STORM_AT, STORM_AT + HINT) == []


def test_an_absurd_hint_is_cut_to_max_retry_after_and_said_so(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    service = ThrottlingService(clock, storm_for=1.0, hint=86400.0)
    service.write_external("y", "v")
    guard = GuardPolicy(max_retry_after=60.0)
    with SecretStore(service, clock=clock, guard=guard, retry=RetryPolicy(),
                     poll=PollPolicy(interval=None)) as store:
        clock.advance(STORM_AT - clock.monotonic())
        with (caplog.at_level(logging.WARNING, logger="helium_secrets"),
              pytest.raises(ThrottledError) as info):
            store.get("y")  # 86400 s is over the retry's max_retry_after: no wait in-line
        assert info.value.retry_after == 86400.0  # the error keeps what the service said
        assert [record.getMessage() for record in caplog.records] == [
            "memory asked for a pause of 86400s (Retry-After); calls are paused for "
            "GuardPolicy.max_retry_after, 60s"]
        clock.advance(59.0)
        assert _refused(lambda: store.get("y")).retry_after == pytest.approx(1.0)
        clock.advance(1.0)
        assert store.get("y").value.reveal() == "v"


def test_hints_can_be_ignored(make_store: MakeStore, service: ThrottlingService,
                              clock: ManualClock) -> None:
    ignore = RetryPolicy(respect_retry_after=False, max_attempts=1)
    store = make_store(retry=ignore)
    _throttle(store, clock, ignore)
    clock.advance(1.0)
    with pytest.raises(ThrottledError):  # reaches the service (and is throttled again)
        store.get("y")
    assert len(service.arrived_between(STORM_AT, STORM_AT + HINT)) == 1


def test_a_guard_that_is_off_does_not_pause(
    make_store: MakeStore, service: ThrottlingService, clock: ManualClock
) -> None:
    store = make_store(guard=GuardPolicy(threshold=0))
    _throttle(store, clock)
    clock.advance(1.0)
    with pytest.raises(ThrottledError):
        store.get("y", retry=RetryPolicy.never())


def test_the_async_store_honours_the_hint_on_every_path(
    service: ThrottlingService, clock: ManualClock
) -> None:
    async def scenario() -> None:
        store = AsyncSecretStore(DirectBackend.wrap(service), clock=clock,
                                 guard=GuardPolicy(threshold=5, cooldown=5.0),
                                 cache=CachePolicy(ttl=100.0, refresh_ahead=0.2),
                                 poll=PollPolicy(interval=None))
        try:
            await store.get("cached")
            await store.on_rotation("cached", lambda old, new: None)
            clock.advance(STORM_AT - clock.monotonic())
            with pytest.raises(ThrottledError):
                await store.get("x", retry=RetryPolicy.never())
            clock.advance(1.0)
            await store.get("cached")  # due: its refresh-ahead task is refused
            for _ in range(10):
                await asyncio.sleep(0)
            calls: list[Callable[[], Awaitable[object]]] = [
                lambda: store.get("y"), lambda: store.get_many(["y", "z"]),
                lambda: store.put("y", "new"),
            ]
            for call in calls:
                with pytest.raises(UnavailableError, match="paused"):
                    await call()
            assert await store.rotation.poll_once() is False
            assert service.arrived_between(STORM_AT, STORM_AT + HINT) == []
            clock.advance(STORM_AT + HINT - clock.monotonic())
            assert (await store.get("y")).value.reveal() == "value of y"
        finally:
            await store.aclose()

    asyncio.run(scenario())


# -- the guard object ----------------------------------------------------------------------


def test_the_guard_pauses_for_a_hint_and_then_lets_one_trial_through() -> None:
    guard = FailFastGuard(GuardPolicy(threshold=5, cooldown=5.0))
    guard.record_failure(100.0, retry_after=10.0)  # below the threshold: the hint alone
    assert guard.admit(101.0) == 9.0
    assert guard.admit(109.5) == 0.5
    assert guard.admit(110.0) is None  # the trial
    assert guard.admit(110.0) == 0.0  # one at a time
    guard.record_success()
    assert guard.admit(110.0) is None and not guard.is_open


def test_a_tripped_guard_pauses_for_the_longer_of_its_cooldown_and_the_hint() -> None:
    guard = FailFastGuard(GuardPolicy(threshold=2, cooldown=5.0))
    guard.record_failure(100.0)
    guard.record_failure(100.0, retry_after=2.0)  # trips: the cool-down is longer
    assert guard.admit(104.0) == 1.0
    assert guard.admit(105.0) is None
    guard.record_failure(105.0, retry_after=30.0)  # the failed trial: the hint is longer
    assert guard.admit(134.0) == 1.0
    assert guard.admit(135.0) is None
    assert guard.trips == 2


def test_a_shorter_hint_never_shortens_a_pause() -> None:
    guard = FailFastGuard(GuardPolicy(threshold=5, cooldown=5.0))
    guard.record_failure(100.0, retry_after=30.0)
    guard.record_failure(101.0, retry_after=1.0)  # an attempt that was already in flight
    assert guard.admit(102.0) == 28.0


def test_the_guard_caps_a_hint() -> None:
    guard = FailFastGuard(GuardPolicy(max_retry_after=60.0))
    assert guard.record_failure(0.0, retry_after=86400.0) is True  # cut: the caller says so
    assert guard.admit(59.0) == 1.0
    assert guard.admit(60.0) is None
    assert guard.record_failure(60.0, retry_after=10.0) is False


def test_max_retry_after_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match=r"^GuardPolicy\.max_retry_after must not be negative$"):
        GuardPolicy(max_retry_after=-1.0)


def test_max_retry_after_may_be_zero_or_a_fraction_of_a_second() -> None:
    # 0: a service's hint pauses nothing (each hint is cut, and said so).
    guard = FailFastGuard(GuardPolicy(max_retry_after=0))
    assert guard.record_failure(100.0, retry_after=10.0) is True
    assert guard.admit(100.0) is None
    # Half a second: the pause is cut to that.
    guard = FailFastGuard(GuardPolicy(max_retry_after=0.5))
    assert guard.record_failure(100.0, retry_after=10.0) is True
    assert guard.admit(100.25) == 0.25
    assert guard.admit(100.5) is None


# -- what a refusal says, and hints at the edges ---------------------------------------------


def test_a_hint_under_a_second_pauses_the_store_too(clock: ManualClock) -> None:
    service = ThrottlingService(clock, storm_for=0.5, hint=0.5)
    service.write_external("y", "v")
    with SecretStore(service, clock=clock, retry=ONE_ATTEMPT,
                     poll=PollPolicy(interval=None)) as store:
        clock.advance(STORM_AT - clock.monotonic())
        with pytest.raises(ThrottledError):
            store.get("y")
        clock.advance(0.25)
        assert _refused(lambda: store.get("y")).retry_after == pytest.approx(0.25)
        assert service.arrived_between(STORM_AT, STORM_AT + 0.5) == []
        clock.advance(0.25)
        assert store.get("y").value.reveal() == "v"


@pytest.mark.parametrize("guard", [
    GuardPolicy(threshold=5, cooldown=30.0),  # the hint alone, shorter than the cool-down
    GuardPolicy(threshold=1, cooldown=5.0),  # tripped, and the hint holds it open longer
])
def test_a_refusal_during_a_hint_says_the_service_asked_for_it(
    make_store: MakeStore, clock: ManualClock, guard: GuardPolicy
) -> None:
    store = make_store(guard=guard, retry=ONE_ATTEMPT)
    _throttle(store, clock)
    clock.advance(1.0)
    refused = _refused(lambda: store.get("y"))
    assert str(refused).startswith(
        "calls to the backend are paused for 9.0s as the service asked (Retry-After)")


def test_a_refusal_during_a_cooldown_longer_than_the_hint_says_it_follows_failures(
    make_store: MakeStore, clock: ManualClock
) -> None:
    store = make_store(guard=GuardPolicy(threshold=1, cooldown=30.0), retry=ONE_ATTEMPT)
    _throttle(store, clock)
    clock.advance(1.0)
    refused = _refused(lambda: store.get("y"))
    assert str(refused).startswith(
        "calls to the backend are paused for 29.0s after repeated failures")


def test_a_hint_of_exactly_max_retry_after_is_not_cut_and_not_warned_about(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    service = ThrottlingService(clock, storm_for=1.0, hint=60.0)
    service.write_external("y", "v")
    with SecretStore(service, clock=clock, guard=GuardPolicy(max_retry_after=60.0),
                     retry=ONE_ATTEMPT, poll=PollPolicy(interval=None)) as store:
        clock.advance(STORM_AT - clock.monotonic())
        with (caplog.at_level(logging.WARNING, logger="helium_secrets"),
              pytest.raises(ThrottledError)):
            store.get("y")
        assert caplog.records == []
        clock.advance(59.0)
        assert _refused(lambda: store.get("y")).retry_after == pytest.approx(1.0)
        clock.advance(1.0)
        assert store.get("y").value.reveal() == "v"
