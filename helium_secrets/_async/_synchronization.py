"""The asyncio side's primitives: the counterparts, name for name, of
:mod:`helium_secrets._synchronization` (classes ``Async``-prefixed).

Only asyncio: no thread here blocks the event loop, and nothing waits on a ``threading``
primitive while the loop runs.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from helium_secrets.backends._pacing import TurnBudget
from helium_secrets.layers.retry import async_call_with_retry as call_with_retry

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from helium_secrets._values import Secret

__all__ = [
    "AsyncBackground",
    "AsyncEvent",
    "AsyncFlight",
    "AsyncLock",
    "AsyncThreadLock",
    "AsyncThreadRLock",
    "AsyncTryLock",
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


class AsyncThreadLock:
    """No lock: every task of the store runs on the loop's one thread, and the sections it
    guards never await."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc_info: object) -> None:
        return None


AsyncThreadRLock = AsyncThreadLock
AsyncLock = asyncio.Lock


class AsyncTryLock:
    """``acquire(blocking=False)`` and ``release``: a flag, on one thread."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held = False

    def acquire(self, blocking: bool = True) -> bool:
        if self._held:
            return False
        self._held = True
        return True

    def release(self) -> None:
        self._held = False


class AsyncEvent:
    """A flag to wait on, with a timeout."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    def clear(self) -> None:
        self._event.clear()

    async def wait(self, timeout: float) -> bool:
        """Whether the flag was set within ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except asyncio.TimeoutError:  # not the builtin one before Python 3.11
            return False
        return True


class AsyncFlight:
    """One fetch in progress, shared by every caller that wants the same key.

    The fetch is one task; each caller awaits a future of its own that :meth:`resolve` sets,
    so a cancelled caller cancels only its own future, never the fetch the others wait on.
    (One future per caller, set directly, wakes the caller in the turn after the answer;
    ``asyncio.shield`` and ``wait_for`` around one shared future cost a turn each, and a
    timer task's worth of objects, on every miss.)
    """

    __slots__ = ("_done", "_error", "_secret", "_waiters", "started")

    def __init__(self, started: float) -> None:
        self.started = started
        self._done = False
        self._secret: Secret | None = None
        self._error: BaseException | None = None
        self._waiters: list[asyncio.Future[Secret | None]] = []

    def done(self) -> bool:
        return self._done

    def resolve(self, secret: Secret | None = None, error: BaseException | None = None) -> None:
        """Set the answer, unless it is set already, and wake every caller still waiting."""
        if self._done:
            return
        assert error is not None or secret is not None
        self._done, self._secret, self._error = True, secret, error
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if waiter.done():  # its caller was cancelled, or its stale wait ran out
                continue
            if error is not None:
                waiter.set_exception(error)
                waiter.exception()  # retrieved: a caller cancelled meanwhile is no warning
            else:
                waiter.set_result(secret)

    async def answer(self, timeout: float | None = None) -> Secret | None:
        """The secret (raising the error) once set; ``None`` if ``timeout`` ran out first."""
        if self._done:
            if self._error is not None:
                raise self._error
            return self._secret
        if timeout is not None and timeout <= 0:
            return None
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[Secret | None] = loop.create_future()
        self._waiters.append(waiter)
        timer = loop.call_later(timeout, _time_out, waiter) if timeout is not None else None
        try:
            return await waiter
        finally:
            if timer is not None:
                timer.cancel()
            if not self._done:  # cancelled, or timed out: the answer will not be for us
                self._waiters.remove(waiter)

    @staticmethod
    def after_fork_in_child() -> None:
        return None


def _time_out(waiter: asyncio.Future[Secret | None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


#: Background fetches let start per turn of the event loop. A fetch runs the call pipeline
#: (a few microseconds of CPU) before its first await, so 1,000 concurrent misses started at
#: once would spend one turn of ~10 ms on those steps while every other task waits.
STARTS_PER_TURN = 25


class AsyncBackground:
    """The store's background fetches: tasks on the running loop, awaited by :meth:`aclose`,
    started at most :data:`STARTS_PER_TURN` per turn of the loop (first come first served).

    :param name: the tasks' name prefix.
    :param executor: the sync twin's (an executor for its thread pool); tasks need none, so
        the async twin takes it and leaves it alone.
    """

    def __init__(self, name: str, executor: Executor | None = None) -> None:
        self._name = name
        self._tasks: set[asyncio.Task[Any]] = set()
        self._starts = TurnBudget(STARTS_PER_TURN)
        self._closed = False

    def _start(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        task = asyncio.get_running_loop().create_task(self._paced(fn, args), name=self._name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def admit(self) -> None:
        """Return at once, or, past :data:`STARTS_PER_TURN` reads and fetches started in this
        turn of the loop, in a later turn."""
        await self._starts.enter()

    async def _paced(self, fn: Callable[..., Coroutine[Any, Any, Any]],
                     args: tuple[Any, ...]) -> None:
        await self._starts.enter()
        await fn(*args)

    def submit(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> bool:
        """Run ``fn(*args)`` as a task; ``False`` once closed."""
        if self._closed:
            return False
        self._start(fn, *args)
        return True

    async def lead(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any) -> None:
        """Run the fetch others wait on as a task of its own, so that cancelling the caller
        that started it does not cancel it (after close, in the caller)."""
        if self._closed:
            await fn(*args)
        else:
            self._start(fn, *args)

    async def aclose(self) -> None:
        """Wait (10 s at most) for the fetches running, then cancel what is left."""
        self._closed = True
        tasks = set(self._tasks)
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=10)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)

    def after_fork_in_child(self) -> None:
        return None


def spawn(target: Callable[[], Coroutine[Any, Any, Any]], name: str) -> asyncio.Task[Any]:
    """Start ``target()`` as the store's background worker (a task on the running loop)."""
    return asyncio.get_running_loop().create_task(target(), name=name)


def start_soon(target: Callable[..., Coroutine[Any, Any, Any]],
               *args: Any) -> asyncio.Task[Any] | None:
    """Start ``target(*args)`` as a task on the running loop, for a caller that cannot await
    (a decorator); ``None`` when no loop is running (nothing is started)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return loop.create_task(target(*args), name="helium-rotation-watch")


def is_alive(worker: asyncio.Task[Any] | None) -> bool:
    return worker is not None and not worker.done()


async def join(worker: asyncio.Task[Any] | None, timeout: float) -> None:
    """Wait for ``worker`` to finish (unless it is the one asking); cancel it past ``timeout``."""
    if worker is None or worker is asyncio.current_task() or worker.done():
        return
    done, _ = await asyncio.wait({worker}, timeout=timeout)
    if not done:
        worker.cancel()
        await asyncio.wait({worker})


async def resolve(result: T | Awaitable[T]) -> T:
    """What a callback returned, awaited if it is awaitable (an async callback)."""
    if inspect.isawaitable(result):
        return await result
    return result


class _Names(AsyncIterator[T]):
    """An async iterator over what ``fetch()`` returns, fetched at the first ``__anext__``."""

    def __init__(self, fetch: Callable[[], Awaitable[Iterable[T]]]) -> None:
        self._fetch: Callable[[], Awaitable[Iterable[T]]] | None = fetch
        self._items: Iterable[T] | None = None

    def __aiter__(self) -> _Names[T]:
        return self

    async def __anext__(self) -> T:
        if self._fetch is not None:
            fetch, self._fetch = self._fetch, None
            self._items = iter(await fetch())
        assert self._items is not None
        try:
            return next(iter(self._items))
        except StopIteration:
            raise StopAsyncIteration from None


def iterate(fetch: Callable[[], Awaitable[Iterable[T]]]) -> AsyncIterator[T]:
    """An async iterator over what ``fetch()`` returns (fetched when iteration starts)."""
    return _Names(fetch)


async def collect(names: Any) -> Iterable[Any]:
    """What an async backend's ``list_names`` returned: awaited, or an async iterator's items."""
    if inspect.isawaitable(names):
        names = await names
    if hasattr(names, "__aiter__"):
        return [name async for name in names]
    return names  # type: ignore[no-any-return]


def renew_after_fork(instance: object, renew: Callable[[Any], None]) -> None:
    """Nothing: an event loop does not survive a fork (a child opens its own store)."""
    return None
