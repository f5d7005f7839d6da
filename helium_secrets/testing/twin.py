"""The async twin behind a sync face, so that one suite of cases runs on both twins.

:class:`SyncTwin` has :class:`~helium_secrets.SecretStore`'s methods; each one runs the
:class:`~helium_secrets.AsyncSecretStore`'s coroutine on an event loop in a helper thread
(:class:`LoopThread`, with ``asyncio.run_coroutine_threadsafe``) and waits for its answer, so
every conformance case, written once against the sync API, exercises the async code paths:
coalescing on one task, the background tasks, the async listeners and the async backends.

The loop runs in asyncio's debug mode: a callback or task step that holds the loop longer than
:data:`STALL_LIMIT` (something blocking it) is recorded in :attr:`LoopThread.stalls`, which the
harness checks when it closes. A blocking call made on the loop's thread is recorded there too,
however fast it returns (a local server answers a blocking request in a millisecond, well
under any stall limit): a connect on a blocking socket, a name lookup, or ``time.sleep``,
as Python's audit events (:func:`sys.addaudithook`) report them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from helium_secrets._async._store import AsyncSecretStore
    from helium_secrets.backends._base import AsyncBackend

__all__ = ["STALL_LIMIT", "LoopThread", "SyncTwin"]

T = TypeVar("T")

#: The longest a callback may hold the loop before it counts as a stall: generous, since the
#: machine may be slow and shared (a loaded 2-core machine stretches a 50 ms step past half a
#: second). Blocking calls are caught by the audit hook below whatever they last; this catches
#: the rest (a CPU-bound loop, a blocking call with no audit event).
STALL_LIMIT = 1.0
#: Seconds a proxied call may take before the face gives up on it.
CALL_TIMEOUT = 300.0


class _StallRecorder(logging.Handler):
    def __init__(self, loop_thread: LoopThread) -> None:
        super().__init__(logging.WARNING)
        self._owner = loop_thread

    def emit(self, record: logging.LogRecord) -> None:
        # asyncio's debug mode: "Executing <Handle ...> took 0.612 seconds".
        if threading.current_thread() is self._owner.thread and "took" in record.getMessage():
            self._owner.stalls.append(record.getMessage())


#: The audit events of a blocking call (``time.sleep`` has one from Python 3.13). A connect
#: counts only on a blocking socket: asyncio's own connects use non-blocking ones.
_BLOCKING_EVENTS = frozenset({"socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                              "socket.gethostbyaddr", "time.sleep"})
#: The loop threads being watched, by thread ident (an audit hook cannot be removed: one
#: hook serves every LoopThread of the process).
_watched: dict[int, LoopThread] = {}
_hook_lock = threading.Lock()
_hook_installed = False


def _blocking_call_hook(event: str, args: tuple[Any, ...]) -> None:
    if event not in _BLOCKING_EVENTS:  # the fast path: every audit event of the process
        return
    owner = _watched.get(threading.get_ident())
    if owner is None:
        return
    if event == "socket.connect":
        if args[0].gettimeout() == 0.0:
            return
        owner.stalls.append(f"a blocking socket connect to {args[1]!r} on the event loop")
    elif event == "time.sleep":
        owner.stalls.append(f"time.sleep({args[0]!r}) on the event loop")
    else:
        owner.stalls.append(f"a blocking name lookup ({event} {args[0]!r}) on the event loop")


def _install_hook() -> None:
    global _hook_installed
    with _hook_lock:
        if not _hook_installed:
            sys.addaudithook(_blocking_call_hook)
            _hook_installed = True


class LoopThread:
    """An asyncio event loop running in a helper thread, until :meth:`close`."""

    def __init__(self, *, debug: bool = True) -> None:
        self.loop = asyncio.new_event_loop()
        self.loop.set_debug(debug)
        self.loop.slow_callback_duration = STALL_LIMIT
        #: What blocked the loop: the slow callbacks asyncio's debug mode reported, and the
        #: blocking calls made on its thread.
        self.stalls: list[str] = []
        self.thread = threading.Thread(target=self._run, name="helium-twin-loop", daemon=True)
        self._recorder = _StallRecorder(self)
        logging.getLogger("asyncio").addHandler(self._recorder)
        _install_hook()
        self.thread.start()

    def _run(self) -> None:
        ident = threading.get_ident()
        _watched[ident] = self
        try:
            self.loop.run_forever()
        finally:
            _watched.pop(ident, None)

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run ``awaitable`` on the loop and return its result (or raise its error)."""

        async def wait() -> T:
            return await awaitable

        return asyncio.run_coroutine_threadsafe(wait(), self.loop).result(CALL_TIMEOUT)

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Call the plain ``fn(*args)`` on the loop's thread (it may start tasks)."""

        async def run() -> T:
            return fn(*args)

        return self.run(run())

    def close(self) -> None:
        """Stop the loop (once its tasks are done) and its thread."""
        logging.getLogger("asyncio").removeHandler(self._recorder)
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=CALL_TIMEOUT)
        self.loop.close()


class _Proxy:
    """An object on the loop (the listeners, the extras, a lease) with its coroutine methods
    run there."""

    def __init__(self, target: Any, loop: LoopThread) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._target, name)
        if not callable(attr):
            return attr
        loop = self._loop

        def call(*args: Any, **kwargs: Any) -> Any:
            result = loop.call(lambda: attr(*args, **kwargs))
            return loop.run(result) if inspect.isawaitable(result) else result

        return call

    def __dir__(self) -> list[str]:
        return dir(self._target)


def _in_thread(fn: Callable[..., T]) -> Callable[..., Coroutine[Any, Any, T]]:
    """A sync callback of the cases, run in a worker thread: it may call the face, which
    waits on the loop (on the loop's own thread that would wait for good)."""

    async def run(*args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    return run


class SyncTwin:
    """A :class:`~helium_secrets.SecretStore`-shaped face over an
    :class:`~helium_secrets.AsyncSecretStore` running on ``loop``.

    :attr:`backend` is the sync backend under a thread-offloading or direct adapter (where
    the tests inject faults), else the async backend with its coroutine methods run on the
    loop (a case that calls the backend directly gets answers, not coroutines).
    """

    def __init__(self, store: AsyncSecretStore, loop: LoopThread) -> None:
        self.twin = store
        self._loop = loop
        adapter: AsyncBackend = store.backend
        sync = getattr(adapter, "sync", None)
        #: Where the harness injects faults: the sync backend, or the async backend itself.
        self.driver: Any = sync if sync is not None else adapter
        self.backend: Any = sync if sync is not None else _Proxy(adapter, loop)
        self._callbacks: dict[tuple[str, Any], Callable[..., Any]] = {}

    def __repr__(self) -> str:
        return repr(self.twin)

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.twin, name)
        if not inspect.iscoroutinefunction(attr):
            return attr  # policies, check_name, add_audit_hook...
        loop = self._loop

        def call(*args: Any, **kwargs: Any) -> Any:
            return loop.run(attr(*args, **kwargs))

        call.__name__ = name
        return call

    def list(self, prefix: str = "") -> Iterator[str]:
        async def collect() -> list[str]:
            names: AsyncIterator[str] = self.twin.list(prefix)  # validated here, as sync
            return [name async for name in names]

        return iter(self._loop.run(collect()))

    def on_rotation(self, name: str, callback: Any = None) -> Any:
        if callback is None:
            return lambda fn: self.on_rotation(name, fn)
        self._loop.run(self.twin.on_rotation(name, self._callbacks.setdefault(
            (name, callback), _in_thread(callback))))
        return callback

    def remove_rotation_listener(self, name: str, callback: Any) -> bool:
        wrapped = self._callbacks.pop((name, callback), None)
        return wrapped is not None and self.twin.remove_rotation_listener(name, wrapped)

    def rotate_staged(self, name: str, generator: Callable[[], str | bytes],
                      test: Callable[[Any], object]) -> Any:
        return self._loop.run(self.twin.rotate_staged(name, generator, _in_thread(test)))

    def lease(self, path: str) -> Any:
        return _Proxy(self._loop.run(self.twin.lease(path)), self._loop)

    @property
    def rotation(self) -> Any:
        return _Proxy(self.twin.rotation, self._loop)

    @property
    def extras(self) -> Any:
        return _Proxy(self.twin.extras, self._loop)

    @property
    def closed(self) -> bool:
        return self.twin.closed

    def close(self) -> None:
        self._loop.run(self.twin.aclose())

    def __enter__(self) -> SyncTwin:
        self.twin._pipeline.check_open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
