"""The fail-fast guard: stop hammering a backend that keeps failing.

After ``threshold`` consecutive transient failures (each attempt counts, retries included),
attempts stop reaching the backend for ``cooldown`` seconds and fail at once with
:class:`~helium_secrets.errors.UnavailableError` (reads are then served stale where the cache
allows), and retrying stops while it is open. After the cool-down one attempt goes through as a
trial: success closes the guard, failure opens it again. A dead backend therefore sees at most
``threshold`` attempts, then one per cool-down.

A service's own hint (Retry-After, a gRPC retry delay) pauses the store at once, whatever the
count: no attempt reaches the backend before the hint is over (or the cool-down, once tripped,
whichever is longer), then one goes through as the trial. A hint longer than
``max_retry_after`` pauses for ``max_retry_after`` only (the caller is told, to say so).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace

__all__ = ["FailFastGuard", "GuardPolicy"]


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """When the guard trips. Immutable.

    :param threshold: consecutive failed attempts that trip the guard (0 turns it off).
    :param cooldown: seconds calls are refused once it has tripped.
    :param max_retry_after: the longest pause a service's hint (Retry-After) imposes, in
        seconds; a longer hint pauses this long.
    """

    threshold: int = 5
    cooldown: float = 5.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.threshold < 0:
            raise ValueError("GuardPolicy.threshold must not be negative (0 turns the guard off)")
        if self.cooldown < 0:
            raise ValueError("GuardPolicy.cooldown must not be negative")
        if self.max_retry_after < 0:
            raise ValueError("GuardPolicy.max_retry_after must not be negative")

    def replace(self, **changes: object) -> GuardPolicy:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)  # type: ignore[arg-type]


class FailFastGuard:
    """Counts consecutive transient failures and refuses calls during the cool-down."""

    def __init__(self, policy: GuardPolicy) -> None:
        self.policy = policy
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until: float | None = None
        self._trial_running = False
        #: Whether the pause now running is a service's hint (longer than the cool-down).
        self.hinted = False
        self.trips = 0

    def admit(self, now: float) -> float | None:
        """Return ``None`` if a call may proceed, else the seconds left in the cool-down."""
        if self._open_until is None:  # the common case, without the lock
            return None
        with self._lock:
            return self._admit_locked(now)

    def _admit_locked(self, now: float) -> float | None:
        open_until = self._open_until  # another thread may have closed the guard meanwhile
        if open_until is None:
            return None
        if now < open_until:
            return open_until - now
        if self._trial_running:  # one trial at a time after the cool-down
            return 0.0
        self._trial_running = True
        return None

    def record_success(self) -> None:
        """An attempt reached the backend and it answered (even with a non-transient error)."""
        if self._failures or self._open_until is not None:
            with self._lock:
                self._failures = 0
                self._open_until = None
                self._trial_running = False
                self.hinted = False

    def abandon_trial(self) -> None:
        """An attempt ended without an answer either way (KeyboardInterrupt, a gevent timeout):
        let the next attempt after the cool-down be the trial, instead of waiting for good."""
        if self._trial_running:
            with self._lock:
                self._trial_running = False

    def record_failure(self, now: float, retry_after: float | None = None) -> bool:
        """An attempt failed with a transient error; ``retry_after`` is the service's hint.

        :return: whether the hint was longer than ``max_retry_after`` and cut to it.
        """
        policy = self.policy
        if policy.threshold <= 0:
            return False
        hint = retry_after if retry_after is not None and retry_after > 0 else 0.0
        with self._lock:
            self._failures += 1
            self._trial_running = False
            # A failed trial (the guard is open) counts as tripping again.
            tripped = self._failures >= policy.threshold or self._open_until is not None
            if not (tripped or hint):
                return False
            pause = min(hint, policy.max_retry_after)
            if tripped:
                pause = max(pause, policy.cooldown)
            if self._open_until is None or now >= self._open_until:
                self.trips += 1
                self._open_until = None
            until = now + pause
            if self._open_until is None or until > self._open_until:  # never shortened
                self._open_until = until
                self.hinted = pause > policy.cooldown or not tripped
        return hint > policy.max_retry_after

    def reopens_by(self, moment: float) -> bool:
        """Whether the pause (if any) is over at ``moment``: a retry that waits until then is
        let through, as the trial."""
        open_until = self._open_until
        return open_until is None or open_until <= moment

    def after_fork_in_child(self) -> None:
        """A forked child starts with a fresh lock (the parent's may be held by a thread that
        does not exist in the child)."""
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        """Whether the guard has tripped and not yet been closed by a successful call."""
        return self._open_until is not None
