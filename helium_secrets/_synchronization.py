"""The synchronous side's primitives, one per need of the store's collaborators.

The store's code is written once, asynchronously, in :mod:`helium_secrets._async`, and the
synchronous modules are generated from it by ``scripts/unasync.py`` (as httpcore does). The
only code written twice is here and in :mod:`helium_secrets._async._synchronization`: each
primitive with a thread-based variant (this module) and an asyncio one, under the same name
(``Async``-prefixed for the classes there). Keep the two modules side by side.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from helium_secrets._forksafe import renew_after_fork
from helium_secrets.layers.retry import call_with_retry

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from helium_secrets._values import Secret

__all__ = [
    "Background",
    "Event",
    "Flight",
    "Lock",
    "ThreadLock",
    "ThreadRLock",
    "TryLock",
    "call_with_retry",
    "collect",
    "is_alive",
    "iterate",
    "join",
    "renew_after_fork",
    "resolve",
    "spawn",
    "start_soon",
]

T = TypeVar("T")

#: A lock for short sections that never wait on I/O (a no-op on the event loop's one thread).
ThreadLock = threading.Lock
ThreadRLock = threading.RLock
#: A lock that is held while the backend is called (an ``asyncio.Lock`` on the async side).
Lock = threading.Lock
#: A lock taken with ``acquire(blocking=False)`` only: "someone is at it already".
TryLock = threading.Lock


class Event:
    """A flag to wait on, with a timeout."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    def wait(self, timeout: float) -> bool:
        """Whether the flag was set within ``timeout`` seconds."""
        return self._event.wait(timeout)


class Flight:
    """One fetch in progress, shared by every caller that wants the same key.

    Its answer (a secret or an error) is set once; until then a lock is held, which each
    waiter takes and gives back (with a timeout where it has a stale value to fall back on).
    Lighter than a ``concurrent.futures.Future``, which every cache miss would pay for.
    """

    __slots__ = ("_error", "_pending", "_secret", "started")

    _resolving = threading.Lock()  # a fetch's owner and close() may race to answer it

    def __init__(self, started: float) -> None:
        self.started = started
        self._secret: Secret | None = None
        self._error: BaseException | None = None
        self._pending = threading.Lock()
        self._pending.acquire()

    def done(self) -> bool:
        return not self._pending.locked()

    def resolve(self, secret: Secret | None = None, error: BaseException | None = None) -> None:
        """Set the answer, unless it is set already."""
        with Flight._resolving:
            if self.done():
                return
            self._secret, self._error = secret, error
            self._pending.release()

    def answer(self, timeout: float | None = None) -> Secret | None:
        """The secret (raising the error) once set; ``None`` if ``timeout`` ran out first."""
        if not self._pending.acquire(timeout=-1 if timeout is None else timeout):
            return None
        self._pending.release()
        if self._error is not None:
            raise self._error
        assert self._secret is not None
        return self._secret

    @staticmethod
    def after_fork_in_child() -> None:
        Flight._resolving = threading.Lock()


class Background:
    """The store's background fetches: a small thread pool, started when first needed.

    :param name: the threads' name prefix.
    :param executor: the caller's executor to use instead (a simulation's, say): used as
        given, never shut down.
    """

    def __init__(self, name: str, executor: Executor | None = None) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._given = executor
        self._executor: Executor | None = executor
        self._closed = False

    def submit(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Run ``fn(*args)`` in the background; ``False`` once closed."""
        if self._closed:
            return False
        with self._lock:
            if self._executor is None:
                from concurrent.futures import ThreadPoolExecutor  # only once it is needed

                self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix=self._name)
            executor = self._executor
        try:
            executor.submit(fn, *args)
        except RuntimeError:  # shut down by close() meanwhile
            return False
        return True

    def admit(self) -> None:
        """Nothing to wait for: threads are not an event loop's turns (the async twin paces
        the reads it starts)."""
        return None

    def lead(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run the fetch others wait on: here, in the caller's thread."""
        fn(*args)

    def close(self) -> None:
        """Wait for the fetches running; cancel those queued."""
        self._closed = True
        executor = self._executor
        if executor is not None and executor is not self._given:
            executor.shutdown(wait=True, cancel_futures=True)

    def after_fork_in_child(self) -> None:
        self._lock = threading.Lock()
        self._executor = self._given


def spawn(target: Callable[[], Any], name: str) -> threading.Thread:
    """Start ``target`` as the store's background worker (a daemon thread)."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


def start_soon(target: Callable[..., Any], *args: Any) -> threading.Thread | None:
    """Run ``target(*args)`` now, as a sync caller can wait for it; ``None``: nothing is left
    running (the async side starts a task, for a caller that cannot await)."""
    target(*args)
    return None


def is_alive(worker: threading.Thread | None) -> bool:
    return worker is not None and worker.is_alive()


def join(worker: threading.Thread | None, timeout: float) -> None:
    """Wait for ``worker`` to finish (unless it is the one asking)."""
    if worker is not None and worker is not threading.current_thread():
        worker.join(timeout=timeout)


def resolve(result: T) -> T:
    """What a callback returned (the async side awaits an async callback's coroutine)."""
    return result


def iterate(fetch: Callable[[], Iterable[T]]) -> Iterator[T]:
    """An iterator over what ``fetch()`` returns, fetched now."""
    return iter(fetch())


def collect(names: Iterable[T]) -> Iterable[T]:
    """What a backend's ``list_names`` returned, as an iterable."""
    return names
