"""Rotation listeners and the background poller that notices new versions.

The store tells :class:`AsyncRotationListeners` about every current version it sees (its own
writes, cache fills and refreshes); when the version of a watched secret changes, the listeners
are called with the old and the new :class:`~helium_secrets.Secret`. For changes made by
someone else, one poller per store (a thread; a task on the async twin) probes the watched
names at a jittered interval, using the backend's cheap version probe, and refreshes a name
whose version moved. A failing callback is logged (never with the value) and does not stop the
others or the poller. What is announced, and in which order, is decided in
:mod:`helium_secrets.layers.rotation`.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from helium_secrets._async._synchronization import (
    AsyncEvent,
    AsyncThreadRLock,
    AsyncTryLock,
    is_alive,
    join,
    renew_after_fork,
    resolve,
    spawn,
    start_soon,
)
from helium_secrets._values import Secret, VersionInfo
from helium_secrets.errors import HeliumError, SecretNotFoundError
from helium_secrets.layers.rotation import (
    UNKNOWN,
    AsyncRotationCallback,
    PollPolicy,
    Watch,
    same_version,
)

__all__ = ["AsyncRotationListeners"]

_log = logging.getLogger("helium_secrets.rotation")

#: Seconds :meth:`AsyncRotationListeners.stop` waits for the poller thread: a listener stuck in
#: it delays closing the store by this much, not for good.
STOP_WAIT = 10.0


class AsyncRotationListeners:
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
        probe: Callable[[str], Awaitable[VersionInfo]],
        refresh: Callable[[str], Awaitable[Secret]],
        baseline: Callable[[str], Awaitable[Secret]],
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
        self._lock = AsyncThreadRLock()
        self._callbacks: dict[str, list[AsyncRotationCallback]] = {}
        self._watches: dict[str, Watch] = {}
        self._pending: collections.deque[tuple[str, Secret | None, Secret]] = collections.deque()
        self._delivering = AsyncTryLock()
        self._thread: Any = None  # the poller
        #: The watches add_soon started whose starting version is being read (name -> its task;
        #: the sync twin reads it at once).
        self._starting: dict[str, Any] = {}
        self._wake = AsyncEvent()
        self._stopped = False
        self.callback_errors = 0
        self.polls = 0
        renew_after_fork(self, AsyncRotationListeners._after_fork_in_child)

    # -- registration ----------------------------------------------------------------------

    async def add(self, name: str, callback: AsyncRotationCallback) -> None:
        """Call ``callback(old, new)`` when ``name`` gets a new current version; return once
        the watch knows the version current now."""
        if self._register(name, callback):
            await self._start_watch(name)
        self._ensure_poller()

    def add_soon(self, name: str, callback: AsyncRotationCallback) -> None:
        """:meth:`add` for a caller that cannot wait (the decorator form): the callback is
        registered now and the watch's starting version is read by a task of its own (on the
        sync twin: now). A write of the name first waits for that read (:meth:`settle`), so
        the write is announced. With no loop running, the first version the store learns is
        the starting one, and the poller starts then."""
        if self._register(name, callback):
            starting = start_soon(self._start_watch, name)
            if starting is not None:
                self._starting[name] = starting

    def _register(self, name: str, callback: AsyncRotationCallback) -> bool:
        """Add ``callback``; whether it is the first for ``name`` (whose watch then starts)."""
        with self._lock:
            first = name not in self._callbacks
            self._callbacks.setdefault(name, []).append(callback)
        return first

    async def _start_watch(self, name: str) -> None:
        try:
            try:
                known: Secret | object | None = await self._baseline(name)
            except SecretNotFoundError:
                known = None  # created later: the callback gets old=None
            except HeliumError:
                known = UNKNOWN  # the first successful read sets it silently
            with self._lock:
                watch = self._watches.setdefault(name, Watch())
                if watch.known is UNKNOWN:
                    watch.known = known
        finally:
            self._starting.pop(name, None)
        self._ensure_poller()

    async def settle(self, name: str) -> None:
        """Before a write of ``name``: wait for the start of its watch that :meth:`add_soon`
        began, so that the write is announced as a change from the version before it."""
        await join(self._starting.get(name), 10)

    def remove(self, name: str, callback: AsyncRotationCallback) -> bool:
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

    async def observe(self, secret: Secret, started: int) -> None:
        """The store learned that ``secret`` is the current version of its name.

        An answer is known to have been current at some moment between the start and the end
        of the call that brought it; :meth:`Watch.learn
        <helium_secrets.layers.rotation.Watch.learn>` decides from that whether it is
        announced, and an answer that cannot be ordered asks for a confirming read.

        :param started: the store's ticket taken when the call began.
        """
        name = secret.name
        if name not in self._callbacks:  # cheap and lock-free for unwatched names
            return
        self._ensure_poller()  # a watch add_soon registered with no loop running starts here
        ended = self._ticket()
        with self._lock:
            verdict, old = self._watches.setdefault(name, Watch()).learn(secret, started, ended)
            if verdict == "changed":
                self._pending.append((name, old, secret))
        if verdict == "ambiguous":
            self._confirm(name)
        elif verdict in ("changed", "baseline"):
            await self._deliver()

    async def _deliver(self) -> None:
        # One at a time calls the callbacks, in the order the changes were queued; one that
        # finds another delivering leaves its change to that one.
        while self._delivering.acquire(blocking=False):
            try:
                while True:
                    with self._lock:
                        if not self._pending:
                            break
                        name, old, new = self._pending.popleft()
                        callbacks = list(self._callbacks.get(name, ()))
                    for callback in callbacks:
                        await self._call(callback, name, old, new)
            finally:
                self._delivering.release()
            with self._lock:
                if not self._pending:
                    return

    async def _call(self, callback: AsyncRotationCallback, name: str, old: Secret | None,
                    new: Secret) -> None:
        try:
            await resolve(callback(old, new))
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
            if watch is not None:
                watch.forget(started, ended)

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
            if is_alive(self._thread):
                return
            self._thread = spawn(self._run, f"helium-rotation-poller[{self._backend}]")

    async def _run(self) -> None:
        policy = self.policy
        assert policy.interval is not None
        delay = policy.interval
        while True:
            if await self._wake.wait(policy.jittered(delay)) or self._stopped:
                return
            delay = policy.next_delay(delay, ok=await self.poll_once())

    async def poll_once(self) -> bool:
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
                probed, known = await self._probe(name), self._known(name)
                if known is None or not same_version(known, probed):
                    await self._refresh(name)  # the store calls observe() with the new secret
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

    async def stop(self) -> None:
        """Stop the poller and wait for it to finish its current probe."""
        self._stopped = True
        self._wake.set()
        for starting in list(self._starting.values()):
            await join(starting, STOP_WAIT)
        await join(self._thread, STOP_WAIT)
        self._thread = None

    def _after_fork_in_child(self) -> None:
        # The poller thread does not exist in a forked child: start a fresh one there.
        self._lock = AsyncThreadRLock()
        self._delivering = AsyncTryLock()
        self._wake = AsyncEvent()
        self._thread = None
        if self._callbacks and not self._stopped:
            self._ensure_poller()
