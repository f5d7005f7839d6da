"""Retry with deadlines, on tenacity: the only layer in helium-secrets that retries.

Backends switch their SDK's own retries off, so attempts never multiply. Only transient errors
(throttled, unavailable) are retried, with full-jitter exponential backoff; a service's own hint
(Retry-After) is a floor on the wait (and pauses the whole store: the fail-fast guard); and the
per-call deadline bounds the whole call, waits included: a wait that would cross the deadline
is not started.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from helium_secrets.errors import HeliumError

__all__ = ["Clock", "RetryPolicy", "SystemClock", "async_call_with_retry", "call_with_retry"]

T = TypeVar("T")


class Clock(Protocol):
    """Time as the store sees it; tests substitute a fake one."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    monotonic = staticmethod(time.monotonic)
    sleep = staticmethod(time.sleep)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How transient failures are retried. Immutable: derive variants with :meth:`replace`.

    :param max_attempts: attempts in all, the first included (1 turns retrying off).
    :param initial_backoff: the backoff cap of the first retry, in seconds; it doubles each time.
    :param max_backoff: the largest backoff cap, in seconds.
    :param deadline: seconds the whole call may take, waits included (``None``: no deadline).
    :param respect_retry_after: wait at least as long as the service asks (Retry-After), and
        let the hint pause the store's other calls too (:class:`GuardPolicy`).
    :param max_retry_after: ignore a service hint longer than this and fail instead.
    """

    max_attempts: int = 4
    initial_backoff: float = 0.1
    max_backoff: float = 5.0
    deadline: float | None = 30.0
    respect_retry_after: bool = True
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("RetryPolicy.max_attempts must be at least 1")
        if self.initial_backoff < 0 or self.max_backoff < 0:
            raise ValueError("RetryPolicy backoffs must not be negative")
        if self.deadline is not None and self.deadline <= 0:
            raise ValueError("RetryPolicy.deadline must be positive or None")

    def replace(self, **changes: object) -> RetryPolicy:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt."""
        return cls(max_attempts=1)

    def backoff(self, retry_number: int, rng: Callable[[], float] = random.random) -> float:
        """Full-jitter backoff before retry ``retry_number`` (1-based): uniform in [0, cap]."""
        cap = min(self.max_backoff, self.initial_backoff * 2.0 ** (retry_number - 1))
        return cap * rng()


def call_with_retry(
    fn: Callable[[], T],
    policy: RetryPolicy,
    clock: Clock,
    *,
    retryable: Callable[[HeliumError], bool] = lambda e: e.transient,
    on_retry: Callable[[HeliumError, float], None] | None = None,
) -> T:
    """Call ``fn`` until it succeeds, fails permanently, or the policy gives up.

    ``fn`` raises :class:`HeliumError`; anything else propagates at once. The last error is
    re-raised as it is.
    """
    started = clock.monotonic()
    try:  # the first attempt needs no retry machinery: keep the common path cheap
        return fn()
    except HeliumError as exc:
        if policy.max_attempts <= 1 or not retryable(exc):
            raise
        first_failure: list[HeliumError] = [exc]

    import tenacity  # only once something failed; it costs a few ms to import

    def attempt() -> T:
        if first_failure:  # tenacity's attempt 1 replays the failure that already happened
            raise first_failure.pop()
        return fn()

    options = _tenacity_options(policy, clock, started, retryable, on_retry)
    return tenacity.Retrying(sleep=clock.sleep, **options)(attempt)


async def async_call_with_retry(
    fn: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    clock: Clock,
    *,
    retryable: Callable[[HeliumError], bool] = lambda e: e.transient,
    on_retry: Callable[[HeliumError, float], None] | None = None,
) -> T:
    """:func:`call_with_retry` for a coroutine function, with the same decisions; the waits
    are ``asyncio.sleep`` on the real clock (a virtual clock's ``sleep`` only moves time)."""
    started = clock.monotonic()
    try:
        return await fn()
    except HeliumError as exc:
        if policy.max_attempts <= 1 or not retryable(exc):
            raise
        first_failure: list[HeliumError] = [exc]

    import asyncio

    import tenacity

    async def attempt() -> T:
        if first_failure:
            raise first_failure.pop()
        return await fn()

    async def sleep(seconds: float) -> None:
        if isinstance(clock, SystemClock):
            await asyncio.sleep(seconds)
        else:
            clock.sleep(seconds)

    options = _tenacity_options(policy, clock, started, retryable, on_retry)
    result: T = await tenacity.AsyncRetrying(sleep=sleep, **options)(attempt)
    return result


def _tenacity_options(
    policy: RetryPolicy,
    clock: Clock,
    started: float,
    retryable: Callable[[HeliumError], bool],
    on_retry: Callable[[HeliumError, float], None] | None,
) -> dict[str, Any]:
    """The retry decisions of ``policy``, as tenacity's options (both twins use these)."""
    import tenacity

    def should_retry(state: tenacity.RetryCallState) -> bool:
        outcome = state.outcome
        if outcome is None or not outcome.failed:
            return False
        exc = outcome.exception()
        return isinstance(exc, HeliumError) and retryable(exc)

    def hint(state: tenacity.RetryCallState) -> float | None:
        exc = state.outcome.exception() if state.outcome else None
        after = getattr(exc, "retry_after", None)
        return after if policy.respect_retry_after else None

    def wait(state: tenacity.RetryCallState) -> float:
        delay = policy.backoff(state.attempt_number)
        after = hint(state)
        return delay if after is None else max(delay, after)

    def stop(state: tenacity.RetryCallState) -> bool:
        # tenacity (>= 8.3) computes the wait first, so a wait that would end past the
        # deadline is never started.
        if state.attempt_number >= policy.max_attempts:
            return True
        after = hint(state)
        if after is not None and after > policy.max_retry_after:
            return True
        if policy.deadline is None:
            return False
        return clock.monotonic() - started + state.upcoming_sleep >= policy.deadline

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None:
            exc = state.outcome.exception()
            assert isinstance(exc, HeliumError)
            on_retry(exc, state.upcoming_sleep)

    return {"retry": should_retry, "stop": stop, "wait": wait, "before_sleep": before_sleep,
            "reraise": True}
