"""How the conformance suite reaches a backend: a small harness object, as in gocloud's drivertest.

A :class:`BackendHarness` knows three things about one backend's test set-up, and nothing
about the cases:

* how to make a store on it (:meth:`~BackendHarness.make_backend`, :meth:`~BackendHarness.make_store`);
* how to write "from outside", as another client rotating a secret would
  (:meth:`~BackendHarness.write_external`);
* how to inject a fault (:meth:`~BackendHarness.inject_fault`, or the
  :meth:`~BackendHarness.fault` context manager), where its test infrastructure can.

One harness serves one test: it plays the service, and every store it makes is another client
of that one service. :meth:`~BackendHarness.close` closes them all. With ``twin="async"`` the
stores it makes are async twins (:class:`~helium_secrets.AsyncSecretStore`) on
:meth:`~BackendHarness.make_async_backend`, behind a sync face
(:class:`~helium_secrets.testing.twin.SyncTwin`), so that the same cases run on both twins. ::

    class MyHarness(BackendHarness):
        def make_backend(self):
            return MyBackend(endpoint=SERVER_URL)

Faults have a kind (:data:`FAULT_KINDS`) and hit one raw operation (:data:`OPERATIONS`).
``lost_answer`` works on any backend out of the box: the backend's call takes effect, then the
harness raises a transient :class:`~helium_secrets.errors.UnavailableError` instead of returning
its answer, which is what the store sees when a connection drops after the service did the
work. :meth:`~BackendHarness.failing_reads` makes the reads of one name fail with a given
error (denied, unavailable, conflicting) while every other name reads as usual, also on any
backend. ``unavailable`` and ``throttled`` need the service's (or emulator's, or proxy's) help: a
harness that can produce them lists them in :attr:`~BackendHarness.faults` and overrides
:meth:`~BackendHarness.inject_fault` and :meth:`~BackendHarness.clear_faults`.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from helium_secrets._store import SecretStore
from helium_secrets.backends._base import Backend
from helium_secrets.errors import HeliumError, UnavailableError

if TYPE_CHECKING:
    from helium_secrets.backends._base import AsyncBackend
    from helium_secrets.testing.twin import LoopThread

__all__ = ["FAULT_KINDS", "OPERATIONS", "BackendHarness"]

H = TypeVar("H", bound="BackendHarness")

#: ``unavailable``: the service is down (5xx, a refused call); ``throttled``: it asks the
#: caller to slow down (429, a throttling code); ``lost_answer``: the request takes effect but
#: its answer never arrives.
FAULT_KINDS = ("unavailable", "throttled", "lost_answer")

#: The raw operations a fault can hit: the :class:`~helium_secrets.backends.Backend` methods.
OPERATIONS = ("get", "put", "delete")


class BackendHarness:
    """One backend's test set-up, for :class:`~helium_secrets.testing.conformance.BackendConformance`.

    Subclasses implement :meth:`make_backend`; the rest has defaults. Use it as a context
    manager, or call :meth:`close`.
    """

    #: A version id that is well formed for the backend but never issued.
    missing_version: ClassVar[str] = "987654"
    #: The fault kinds :meth:`inject_fault` can inject.
    faults: ClassVar[frozenset[str]] = frozenset({"lost_answer"})

    def __init__(self) -> None:
        self._stores: list[SecretStore] = []
        self._lost: _LostAnswers | None = None
        self._failing: list[_FailingReads] = []
        #: ``"sync"``, or ``"async"``: :meth:`make_store` makes the async twin's stores.
        self.twin = "sync"
        self._loop: LoopThread | None = None

    # -- stores ----------------------------------------------------------------------------

    def make_backend(self) -> Backend:
        """A new backend instance: a new client of the harness's service."""
        raise NotImplementedError(f"{type(self).__name__} must implement make_backend()")

    def make_store(self, **store_options: Any) -> SecretStore:
        """A new :class:`~helium_secrets.SecretStore` on :meth:`make_backend`, closed by :meth:`close`.

        :param store_options: the store's keyword options (``cache=``, ``retry=``, ...).
        """
        store = (SecretStore(self.make_backend(), **store_options) if self.twin == "sync"
                 else self._make_twin(store_options))
        self._stores.append(store)
        if self._lost is not None:
            self._lost.install(getattr(store, "driver", store.backend))
        for failing in self._failing:
            failing.install(getattr(store, "driver", store.backend))
        return store

    def make_async_backend(self) -> AsyncBackend:
        """A new async backend for the async twin's stores: by default :meth:`make_backend`'s
        in worker threads; a backend with an async class of its own returns that."""
        from helium_secrets.backends.aio import offloaded

        return offloaded(self.make_backend())

    def _make_twin(self, store_options: dict[str, Any]) -> SecretStore:
        from helium_secrets._async._store import AsyncSecretStore
        from helium_secrets.testing.twin import LoopThread, SyncTwin

        if self._loop is None:
            self._loop = LoopThread()
        store = AsyncSecretStore(self.make_async_backend(), **store_options)
        # Duck-typed: the face has SecretStore's methods, which the cases call.
        return cast(SecretStore, SyncTwin(store, self._loop))

    @property
    def loop_stalls(self) -> list[str]:
        """What blocked the async twin's event loop so far (asyncio's slow callbacks)."""
        return list(self._loop.stalls) if self._loop is not None else []

    def write_external(self, name: str, value: str | bytes) -> str:
        """Write a new current version of ``name`` as another client would; return its id.

        No store made earlier learns of it until it reads the backend again (a refresh, an
        expired cache entry, the rotation poller): this is a rotation done elsewhere. The
        default writes through a new store of its own; read-only backends override it.
        """
        with self.make_store(cache=None) as other:
            return other.put(name, value).version

    # -- faults ----------------------------------------------------------------------------

    def supports(self, kind: str) -> bool:
        """Whether :meth:`inject_fault` can inject faults of ``kind``."""
        return kind in self.faults

    def inject_fault(self, kind: str, operation: str, count: int = 1) -> None:
        """Make the next ``count`` calls of ``operation`` fail as ``kind`` says.

        Harnesses that inject more than ``lost_answer`` override this (and
        :meth:`clear_faults`), handing ``lost_answer`` to this default unless their
        infrastructure loses answers itself.

        :param kind: one of :data:`FAULT_KINDS` that :meth:`supports` accepts.
        :param operation: one of :data:`OPERATIONS`.
        :raises ValueError: an unknown or unsupported kind, or an unknown operation.
        """
        self._check_fault(kind, operation, count)
        if kind != "lost_answer":
            raise ValueError(f"{type(self).__name__} lists {kind!r} in faults but does not "
                             "override inject_fault() to inject it")
        self.clear_faults()
        self._lost = _LostAnswers(operation, count)
        for store in self._stores:
            self._lost.install(getattr(store, "driver", store.backend))

    def clear_faults(self) -> int:
        """Cancel the injected faults not used yet; return how many there were."""
        lost, self._lost = self._lost, None
        return lost.uninstall() if lost is not None else 0

    @contextmanager
    def fault(self, kind: str, operation: str, count: int = 1) -> Iterator[None]:
        """:meth:`inject_fault` for the ``with`` block; what is left is cancelled at its end.

        :raises ValueError: as :meth:`inject_fault`.
        :raises AssertionError: the block ended normally without using every fault (the test
            then tested nothing).
        """
        self._check_fault(kind, operation, count)
        self.inject_fault(kind, operation, count)
        try:
            yield
        except BaseException:
            self.clear_faults()
            raise
        left = self.clear_faults()
        if left:
            raise AssertionError(f"{left} of {count} injected {kind} fault(s) on {operation!r} "
                                 "were never used")

    @contextmanager
    def failing_reads(self, name: str, error: type[HeliumError]) -> Iterator[None]:
        """In the ``with`` block, every read of ``name`` fails with ``error``.

        ``get`` raises it, and a ``get_many`` batch answers it for that name (the batch itself
        goes to the service); other names read as usual. Like ``lost_answer`` it works at the
        driver boundary, so on any backend: what a service does when it denies, or cannot
        serve, one secret of several.

        :param error: the helium error class, e.g. :class:`~helium_secrets.errors.PermissionDeniedError`.
        """
        failing = _FailingReads(name, error)
        self._failing.append(failing)
        for store in self._stores:
            failing.install(getattr(store, "driver", store.backend))
        try:
            yield
        finally:
            self._failing.remove(failing)
            failing.uninstall()

    def _check_fault(self, kind: str, operation: str, count: int) -> None:
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; the kinds are {', '.join(FAULT_KINDS)}")
        if not self.supports(kind):
            raise ValueError(f"{type(self).__name__} cannot inject {kind!r} faults")
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}; faults hit {', '.join(OPERATIONS)}")
        if count < 1:
            raise ValueError("count must be at least 1")

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Cancel faults and close every store this harness made."""
        self.clear_faults()
        for failing in self._failing:
            failing.uninstall()
        self._failing.clear()
        for store in self._stores:
            store.close()
        self._stores.clear()
        loop, self._loop = self._loop, None
        if loop is not None:
            loop.close()
            if loop.stalls:
                raise AssertionError(f"the event loop was blocked: {loop.stalls}")

    def __enter__(self: H) -> H:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _LostAnswers:
    """Lost answers at the driver boundary: the backend method runs, then its answer is lost.

    The method is replaced on the backend instance (the store looks it up at each call) and
    restored by :meth:`uninstall`.
    """

    def __init__(self, operation: str, count: int) -> None:
        self.operation = operation
        self.left = count
        self._lock = threading.Lock()
        self._patched: list[Backend] = []

    def install(self, backend: Backend) -> None:
        if any(done is backend for done in self._patched):
            return  # one backend shared by several stores
        method: Callable[..., Any] = getattr(backend, self.operation)

        def lose(result: Any) -> Any:
            with self._lock:
                if self.left <= 0:
                    return result
                self.left -= 1
            raise UnavailableError("the answer was lost on its way back (an injected fault)")

        def answer_lost(*args: Any, **kwargs: Any) -> Any:
            return lose(method(*args, **kwargs))

        async def answer_lost_async(*args: Any, **kwargs: Any) -> Any:  # an async backend's
            return lose(await method(*args, **kwargs))

        setattr(backend, self.operation,
                answer_lost_async if inspect.iscoroutinefunction(method) else answer_lost)
        self._patched.append(backend)

    def uninstall(self) -> int:
        for backend in self._patched:
            delattr(backend, self.operation)  # the class's method shows through again
        self._patched.clear()
        with self._lock:
            left, self.left = self.left, 0
        return left


class _FailingReads:
    """One name's reads fail at the driver boundary; the backend's ``get`` and ``get_many``
    are replaced on the instance and restored by :meth:`uninstall`."""

    def __init__(self, name: str, error: type[HeliumError]) -> None:
        self.name = name
        self.error = error
        self._patched: list[tuple[Backend, dict[str, Callable[..., Any]]]] = []

    def _fail(self) -> HeliumError:
        return self.error(f"reading this secret fails with {self.error.__name__} (an injected fault)")

    def install(self, backend: Backend) -> None:
        if any(done is backend for done, _ in self._patched):
            return
        get: Callable[..., Any] = backend.get
        get_many: Callable[..., dict[str, Any]] = backend.get_many

        def failing_get(name: str, *args: Any, **kwargs: Any) -> Any:
            if name == self.name:
                raise self._fail()
            return get(name, *args, **kwargs)

        def failing_get_many(names: Any) -> dict[str, Any]:
            answers = get_many(names)
            if self.name in names:
                answers[self.name] = self._fail()
            return answers

        async def failing_get_async(name: str, *args: Any, **kwargs: Any) -> Any:
            if name == self.name:
                raise self._fail()
            return await get(name, *args, **kwargs)

        async def failing_get_many_async(names: Any) -> dict[str, Any]:
            answers: dict[str, Any] = await cast(Any, get_many)(names)
            if self.name in names:
                answers[self.name] = self._fail()
            return answers

        native = inspect.iscoroutinefunction(get)  # an async backend's
        mine: dict[str, Callable[..., Any]] = (
            {"get": failing_get_async, "get_many": failing_get_many_async} if native
            else {"get": failing_get, "get_many": failing_get_many})
        for method, patch in mine.items():
            setattr(backend, method, patch)
        self._patched.append((backend, mine))

    def uninstall(self) -> None:
        for backend, mine in self._patched:
            for method, patch in mine.items():
                if vars(backend).get(method) is patch:  # not if another patch replaced it
                    delattr(backend, method)
        self._patched.clear()
