"""The I/O-free part of the rotation listeners: the poll policy and the ordering of versions.

The listeners themselves (``helium_secrets/_rotation.py``, generated from
``helium_secrets/_async/_rotation.py``) call back and poll; what they announce, and when an
answer is too old or cannot be ordered, is decided here, once for both twins.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from helium_secrets._values import Secret, VersionInfo

__all__ = ["UNKNOWN", "AsyncRotationCallback", "PollPolicy", "RotationCallback", "Watch",
           "same_version", "ticket_counter"]

#: ``callback(old, new)``; what it returns is ignored.
RotationCallback = Callable[[Secret | None, Secret], object]
#: The async twin's listeners: a plain function, or a coroutine function (awaited).
AsyncRotationCallback = Callable[[Secret | None, Secret], "Awaitable[None] | None"]

UNKNOWN = object()  # the baseline of a watched name we could not read yet


class Watch:
    """What the listeners know of one watched name: the version announced last, and the
    tickets between which the store learned it was current."""

    __slots__ = ("ended", "known", "started")

    def __init__(self) -> None:
        self.known: Secret | object | None = UNKNOWN
        self.started = -1
        self.ended = -1

    def learn(self, secret: Secret, started: int, ended: int) -> tuple[str, Secret | None]:
        """Take in that ``secret`` was current during the call between tickets ``started``
        and ``ended``; return what to do, and the version it replaces:

        ``"same"`` (nothing to tell), ``"older"`` (the call ended before the one of the
        version announced last began: not announced), ``"ambiguous"`` (the calls overlap: ask
        for a confirming read, whose answer begins after both, instead of guessing),
        ``"baseline"`` (the first answer, not a rotation) or ``"changed"`` (announce it).
        """
        old = self.known
        if isinstance(old, Secret) and same_version(old, secret):
            self.started, self.ended = max(self.started, started), max(self.ended, ended)
            return "same", None
        if ended < self.started:
            return "older", None
        if started < self.ended:
            return "ambiguous", None
        self.known, self.started, self.ended = secret, started, ended
        if old is UNKNOWN:
            return "baseline", None
        return "changed", old if isinstance(old, Secret) else None

    def forget(self, started: int, ended: int) -> None:
        """The secret was deleted by the call between ``started`` and ``ended``."""
        if ended >= self.started:
            self.known, self.started, self.ended = None, started, ended


def same_version(a: Secret, b: Secret | VersionInfo) -> bool:
    """The same version: same id, and the same creation time where both know it (ids start
    again after a delete on some services; the creation time tells the new "1" from the old)."""
    return a.version == b.version and (
        a.created_at is None or b.created_at is None or a.created_at == b.created_at)


def ticket_counter() -> Callable[[], int]:
    """A source of increasing tickets (``next`` on an itertools counter is atomic)."""
    return itertools.count().__next__


@dataclass(frozen=True, slots=True)
class PollPolicy:
    """How the background poller probes watched secrets.

    :param interval: seconds between polls of all watched names (``None``: no poller; only the
        store's own writes and reads detect rotations).
    :param jitter: each wait is ``interval`` times a random factor in ``[1 - jitter, 1 + jitter]``.
    :param max_backoff: on errors the wait doubles, up to this many seconds.
    """

    interval: float | None = 60.0
    jitter: float = 0.2
    max_backoff: float = 600.0

    def __post_init__(self) -> None:
        if self.interval is not None and self.interval <= 0:
            raise ValueError("PollPolicy.interval must be positive or None")
        if not 0 <= self.jitter < 1:
            raise ValueError("PollPolicy.jitter is a fraction in [0, 1)")

    # The poller's schedule, decided here (I/O-free) so that whatever drives the polls, the
    # poller thread or a simulation's virtual clock, follows the same one.

    def jittered(self, delay: float) -> float:
        """``delay`` times a random factor in ``[1 - jitter, 1 + jitter]``: the actual wait."""
        return delay * random.uniform(1 - self.jitter, 1 + self.jitter)

    def next_delay(self, delay: float, *, ok: bool) -> float:
        """The wait before the next poll, before jitter: the interval after a clean poll;
        after a failed one, twice ``delay`` (the last wait), up to ``max_backoff``."""
        assert self.interval is not None
        return self.interval if ok else min(delay * 2, self.max_backoff)


