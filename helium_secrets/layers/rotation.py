"""Rotation listeners and the background poller that notices new versions.

The store tells :class:`RotationListeners` about every current version it sees (its own writes,
cache fills and refreshes); when the version of a watched secret changes, the listeners are
called with the old and the new :class:`~helium_secrets.Secret`. For changes made by someone
else, one poller thread per store probes the watched names at a jittered interval, using the
backend's cheap version probe, and refreshes a name whose version moved. A failing callback is
logged (never with the value) and does not stop the others or the poller.
"""

from __future__ import annotations

import collections
import itertools
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

from helium_secrets._forksafe import renew_after_fork
from helium_secrets._values import Secret, VersionInfo
from helium_secrets.errors import HeliumError, SecretNotFoundError

__all__ = ["PollPolicy", "RotationCallback", "RotationListeners"]

_log = logging.getLogger("helium_secrets.rotation")

RotationCallback = Callable[[Secret | None, Secret], None]

_UNKNOWN = object()  # the baseline of a watched name we could not read yet


class _Watch:
    """What the listeners know of one watched name: the version announced last, and the
    tickets between which the store learned it was current."""

    __slots__ = ("ended", "known", "started")

    def __init__(self) -> None:
        self.known: Secret | object | None = _UNKNOWN
        self.started = -1
        self.ended = -1


def _same(a: Secret, b: Secret | VersionInfo) -> bool:
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


class RotationListeners:
    """The listeners of one store, the last version seen of each watched name, and the poller.

    :param probe: returns the current version of a name (the backend's cheap probe).
    :param refresh: re-reads a name bypassing the cache; the store then calls :meth:`observe`.
    :param baseline: reads a name's current secret (through the cache) when a watch starts.
    :param ticket: the store's ticket counter (see :meth:`observe`).
    :param confirm: schedules a fresh read of a name whose answers could not be ordered.
    """

    def __init__(
        self,
        *,
        backend: str,
        policy: PollPolicy,
        probe: Callable[[str], VersionInfo],
        refresh: Callable[[str], Secret],
        baseline: Callable[[str], Secret],
        ticket: Callable[[], int],
        confirm: Callable[[str], None],
    ) -> None:
        self._backend = backend
        self._ticket = ticket
        self._confirm = confirm
        self.policy = policy
        self._probe = probe
        self._refresh = refresh
        self._baseline = baseline
        self._lock = threading.RLock()
        self._callbacks: dict[str, list[RotationCallback]] = {}
        self._watches: dict[str, _Watch] = {}
        self._pending: collections.deque[tuple[str, Secret | None, Secret]] = collections.deque()
        self._delivering = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()
        self._stopped = False
        self.callback_errors = 0
        self.polls = 0
        renew_after_fork(self, RotationListeners._after_fork_in_child)

    # -- registration ----------------------------------------------------------------------

    def add(self, name: str, callback: RotationCallback) -> None:
        """Call ``callback(old, new)`` when ``name`` gets a new current version."""
        with self._lock:
            first = name not in self._callbacks
            self._callbacks.setdefault(name, []).append(callback)
        if first:
            try:
                known: Secret | object | None = self._baseline(name)
            except SecretNotFoundError:
                known = None  # created later: the callback gets old=None
            except HeliumError:
                known = _UNKNOWN  # the first successful read sets it silently
            with self._lock:
                watch = self._watches.setdefault(name, _Watch())
                if watch.known is _UNKNOWN:
                    watch.known = known
        self._ensure_poller()

    def remove(self, name: str, callback: RotationCallback) -> bool:
        """Stop calling ``callback`` for ``name``; return whether it was registered."""
        with self._lock:
            callbacks = self._callbacks.get(name, [])
            if callback not in callbacks:
                return False
            callbacks.remove(callback)
            if not callbacks:
                del self._callbacks[name]
                self._watches.pop(name, None)
            return True

    def watched(self) -> list[str]:
        """The names with at least one listener."""
        with self._lock:
            return list(self._callbacks)

    # -- detection -------------------------------------------------------------------------

    def observe(self, secret: Secret, started: int) -> None:
        """The store learned that ``secret`` is the current version of its name.

        An answer is known to have been current at some moment between the start and the end
        of the call that brought it. Listeners see versions in the order the store learned
        them and never step backwards: an answer whose call ended before the call of the
        version announced last began is older and is not announced; one whose call overlaps
        it cannot be ordered, so instead of guessing, a confirming read is asked for, and its
        answer, which begins after both, decides.

        :param started: the store's ticket taken when the call began.
        """
        name = secret.name
        if name not in self._callbacks:  # cheap and lock-free for unwatched names
            return
        ended = self._ticket()
        with self._lock:
            watch = self._watches.setdefault(name, _Watch())
            old = watch.known
            if isinstance(old, Secret) and _same(old, secret):
                watch.started, watch.ended = max(watch.started, started), max(watch.ended, ended)
                return
            if ended < watch.started:
                return  # older than what was announced last
            ambiguous = started < watch.ended
            if not ambiguous:
                watch.known, watch.started, watch.ended = secret, started, ended
                if old is not _UNKNOWN:  # the first answer is the baseline, not a rotation
                    self._pending.append((name, old if isinstance(old, Secret) else None, secret))
        if ambiguous:
            self._confirm(name)
        else:
            self._deliver()

    def _deliver(self) -> None:
        # One thread at a time calls the callbacks, in the order the changes were queued;
        # a thread that finds another delivering leaves its change to that one.
        while self._delivering.acquire(blocking=False):
            try:
                while True:
                    with self._lock:
                        if not self._pending:
                            break
                        name, old, new = self._pending.popleft()
                        callbacks = list(self._callbacks.get(name, ()))
                    for callback in callbacks:
                        self._call(callback, name, old, new)
            finally:
                self._delivering.release()
            with self._lock:
                if not self._pending:
                    return

    def _call(self, callback: RotationCallback, name: str, old: Secret | None,
              new: Secret) -> None:
        try:
            callback(old, new)
        except Exception as exc:
            self.callback_errors += 1
            # The exception text is the callback's own; log its type, not its message.
            _log.error(
                "rotation callback %r failed for %s secret %r: %s",
                getattr(callback, "__qualname__", callback),
                self._backend,
                name,
                type(exc).__name__,
            )

    def forget(self, name: str, started: int) -> None:
        """The secret was deleted (by a call that began at ticket ``started``): a re-creation
        is reported with ``old=None``."""
        ended = self._ticket()
        with self._lock:
            watch = self._watches.get(name)
            if watch is not None and ended >= watch.started:
                watch.known, watch.started, watch.ended = None, started, ended

    def _known(self, name: str) -> Secret | None:
        """The version last announced (or first seen) of a watched name, if any."""
        watch = self._watches.get(name)
        known = watch.known if watch is not None else None
        return known if isinstance(known, Secret) else None

    def known_version(self, name: str) -> str | None:
        """The id of the version last seen of a watched name, if any."""
        known = self._known(name)
        return known.version if known is not None else None

    # -- the poller ------------------------------------------------------------------------

    def _ensure_poller(self) -> None:
        if self.policy.interval is None or self._stopped:
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(
                target=self._run, name=f"helium-rotation-poller[{self._backend}]", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        policy = self.policy
        assert policy.interval is not None
        delay = policy.interval
        while True:
            if self._wake.wait(policy.jittered(delay)) or self._stopped:
                return
            delay = policy.next_delay(delay, ok=self.poll_once())

    def poll_once(self) -> bool:
        """Probe every watched name once; refresh those whose version moved.

        :return: ``False`` when any probe failed (the poller then backs off).
        """
        self.polls += 1
        ok = True
        for name in self.watched():
            if self._stopped:
                break
            started = self._ticket()
            try:
                probed, known = self._probe(name), self._known(name)
                if known is None or not _same(known, probed):
                    self._refresh(name)  # the store calls observe() with the new secret
            except SecretNotFoundError:
                self.forget(name, started)
            except HeliumError as exc:
                ok = False
                _log.warning(
                    "rotation poll of %s secret %r failed: %s", self._backend, name, exc.code
                )
            except Exception as exc:  # never let the poller die
                ok = False
                _log.warning(
                    "rotation poll of %s secret %r failed: %s",
                    self._backend,
                    name,
                    type(exc).__name__,
                )
        return ok

    def stop(self) -> None:
        """Stop the poller and wait for it to finish its current probe."""
        self._stopped = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        self._thread = None

    def _after_fork_in_child(self) -> None:
        # The poller thread does not exist in a forked child: start a fresh one there.
        self._lock = threading.RLock()
        self._delivering = threading.Lock()
        self._wake = threading.Event()
        self._thread = None
        if self._callbacks and not self._stopped:
            self._ensure_poller()
