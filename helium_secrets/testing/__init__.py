"""Helpers for testing applications that use helium-secrets, on the in-memory fake.

:class:`FakeSecrets` wraps a :class:`~helium_secrets.SecretStore` on a fresh
:class:`~helium_secrets.backends.memory.MemoryBackend` and adds the switches tests need::

    fake = FakeSecrets()
    fake.seed({"app/db": "hunter2"})
    app = make_app(fake.store)
    fake.rotate("app/db", "correct-horse")     # as if rotated by someone else
    fake.fail_next(2, ThrottledError)           # the next two backend calls are throttled
    assert fake.calls["get"] == 1

The pytest plugin (:mod:`helium_secrets.testing.plugin`) gives each test one as the
``fake_secrets`` fixture, and its store as ``secret_store``. Nothing is shared between tests.
:class:`AsyncFakeSecrets` is the same for the async twin (``async_fake_secrets`` and
``async_secret_store``, for tests run by anyio).

Code that opens its own store (``open_store()``, ``HELIUM_SECRETS_URL``) gets the fake with
:func:`fake_default_store` (the ``fake_default_store`` fixture): a seeded *named* fake
(``mem://NAME``, one per process and name) that ``HELIUM_SECRETS_URL`` points at meanwhile::

    with fake_default_store({"app/db": "hunter2"}) as fake:
        app = make_app()                        # calls open_store() itself
        fake.rotate("app/db", "correct-horse")

Backends (built-in or third-party) run :mod:`helium_secrets.testing.conformance` through a
:class:`BackendHarness`.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from helium_secrets._registry import URL_ENV_VAR
from helium_secrets._store import SecretStore
from helium_secrets._values import Secret
from helium_secrets.backends._base import Classified
from helium_secrets.backends.memory import MemoryBackend, shared
from helium_secrets.errors import HeliumError
from helium_secrets.testing.harness import BackendHarness

if TYPE_CHECKING:
    from helium_secrets._async._store import AsyncSecretStore

__all__ = ["DEFAULT_FAKE", "AsyncFakeSecrets", "BackendHarness", "FakeSecrets", "ManualClock",
           "fake_default_store"]

#: The name of the named fake :func:`fake_default_store` uses unless told otherwise.
DEFAULT_FAKE = "helium-test"


class _FakeControls:
    """The switches :class:`FakeSecrets` and :class:`AsyncFakeSecrets` share: they act on the
    fake backend directly, so they are plain calls on both twins."""

    backend: MemoryBackend
    store: SecretStore | AsyncSecretStore

    def __init__(self, backend: MemoryBackend | None) -> None:
        self.backend = backend if backend is not None else MemoryBackend()
        #: The URL that opens a store on this fake (``mem://NAME`` for a named one).
        self.url = f"mem://{self.backend.shared_name}" if self.backend.shared_name else None

    def seed(self, secrets: Mapping[str, str | bytes]) -> None:
        """Write each ``name: value`` straight into the fake (not through the store's cache)."""
        for name, value in secrets.items():
            self.store.check_name(name)  # the same rules the store applies
            self.backend.write_external(name, value)

    def rotate(self, name: str, value: str | bytes) -> str:
        """Write a new current version "from outside", as a rotation would; return its id.

        The store learns about it as it would in production: when its cache entry expires,
        on :meth:`~helium_secrets.SecretStore.refresh`, or from the rotation poller.
        """
        self.store.check_name(name)
        return self.backend.write_external(name, value)

    def fail_next(
        self,
        count: int = 1,
        error: HeliumError | Classified | type[HeliumError] | None = None,
        *,
        operations: Sequence[str] | None = None,
    ) -> None:
        """Make the next ``count`` backend calls fail (default: unavailable, a transient error).

        :param operations: only calls of these operations (``"get"``, ``"put"``, ``"delete"``,
            ``"list"``, ``"versions"``, ``"current_version"``, ``"set_label"``).
        """
        self.backend.fail_next(count, error, operations=operations)

    def set_latency(self, seconds: float) -> None:
        """Add ``seconds`` of latency to every backend call."""
        self.backend.set_latency(seconds)

    @property
    def calls(self) -> collections.Counter[str]:
        """Backend calls per operation so far."""
        return self.backend.calls

    def secret(self, name: str) -> Secret:
        """The current secret as the backend holds it (bypassing the store's cache)."""
        raw = self.backend.get(name)
        self.backend.calls["get"] -= 1  # inspecting is not a call the application made
        from helium_secrets._reads import to_secret

        return to_secret(raw)


class FakeSecrets(_FakeControls):
    """A fresh fake store with seeding, rotation and fault-injection helpers.

    :param backend: the fake to wrap (a named one, :func:`~helium_secrets.backends.memory.shared`);
        default: a fresh one.
    :param store_options: options for the :class:`~helium_secrets.SecretStore` (``cache``,
        ``retry``, ``poll``, ``audit``, ``clock``, ...); the cache is on by default, as in
        production, so tests see what the application will see.
    """

    store: SecretStore

    def __init__(self, backend: MemoryBackend | None = None, **store_options: Any) -> None:
        super().__init__(backend)
        self.store = SecretStore(self.backend, **store_options)

    def close(self) -> None:
        """Close the store."""
        self.store.close()


class AsyncFakeSecrets(_FakeControls):
    """:class:`FakeSecrets` for the async twin: the same switches (plain calls: they act on
    the fake directly), with an :class:`~helium_secrets.AsyncSecretStore` as :attr:`store`,
    which is closed with ``await fake.aclose()`` (or ``async with``).

    Make it where its store is used (in the test's event loop): the store belongs to the loop
    that first uses it. The pytest plugin's ``async_fake_secrets`` fixture does.

    :param backend: the fake to wrap; default: a fresh one.
    :param store_options: options for the :class:`~helium_secrets.AsyncSecretStore`.
    """

    store: AsyncSecretStore

    def __init__(self, backend: MemoryBackend | None = None, **store_options: Any) -> None:
        from helium_secrets._async._store import AsyncSecretStore  # loads asyncio: not before
        from helium_secrets.backends.aio import AsyncMemoryBackend

        super().__init__(backend)
        self.store = AsyncSecretStore(AsyncMemoryBackend.wrap(self.backend), **store_options)

    async def aclose(self) -> None:
        """Close the store: its tasks (the poller, refreshes) end."""
        await self.store.aclose()

    async def __aenter__(self) -> AsyncFakeSecrets:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


@contextlib.contextmanager
def fake_default_store(
    secrets: Mapping[str, str | bytes] | None = None,
    *,
    name: str = DEFAULT_FAKE,
    **store_options: Any,
) -> Iterator[FakeSecrets]:
    """Point ``HELIUM_SECRETS_URL`` (so ``open_store()`` and the CLI) at the named fake ``name``,
    emptied and seeded with ``secrets``, for the ``with`` block; then empty it and restore the
    variable. Every store opened meanwhile shares the fake's secrets (each has its own cache).

    Not for tests that run in parallel threads of one process: the variable is the process's.
    Code that opens an async store (``open_async_store()``) reads the same variable, so this
    serves an async application's tests too (seed and rotate through the yielded fake).

    :param name: the named fake (``mem://NAME``) to use.
    :param store_options: options of the yielded fake's own store.
    """
    backend = shared(name)
    with _pointed_at(backend):
        fake = FakeSecrets(backend, **store_options)
        try:
            fake.seed(secrets or {})
            yield fake
        finally:
            fake.close()


@contextlib.contextmanager
def _pointed_at(backend: MemoryBackend) -> Iterator[None]:
    """The I/O-free part of :func:`fake_default_store`: the fake emptied and the variable set,
    then both undone."""
    previous = os.environ.get(URL_ENV_VAR)
    backend.reset()
    os.environ[URL_ENV_VAR] = f"mem://{backend.shared_name}"
    try:
        yield
    finally:
        backend.reset()
        if previous is None:
            os.environ.pop(URL_ENV_VAR, None)
        else:
            os.environ[URL_ENV_VAR] = previous


class ManualClock:
    """A :class:`~helium_secrets.layers.retry.Clock` that moves only when told to.

    ``sleep`` does not block: it records the wait and moves the clock forward by it, so retry
    backoff is observable and instantaneous. Thread-safe.

    :param start: the initial reading of :meth:`monotonic`.
    """

    def __init__(self, start: float = 1000.0) -> None:
        self._lock = threading.Lock()
        self._now = start
        #: Every ``sleep`` asked for, in order.
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self._now += seconds

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``."""
        with self._lock:
            self._now += seconds
