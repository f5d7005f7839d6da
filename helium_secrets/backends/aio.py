"""Async backends made from sync ones: the thread-offloading adapter, and the direct one.

:func:`~helium_secrets.open_async_store` uses a backend's own async class where it registers
one (Vault, AWS, Azure and GCP bring theirs, on their SDK's async client). For the others it
wraps the sync backend in a :class:`ThreadedBackend`: each call runs in a worker thread
(``asyncio.to_thread``), so the event loop never blocks on the SDK. A backend that does no I/O
(``mem://``, ``env://``) is called directly on the loop instead (:class:`DirectBackend`),
which costs no thread. The wrapped backend's extras (``store.extras.<op>``) are wrapped too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import (
    Backend,
    Capabilities,
    Classified,
    ExtraOperation,
    LeaseGrant,
    RawSecret,
    extra_operation,
    extra_operations,
)

if TYPE_CHECKING:
    from urllib.parse import SplitResult

__all__ = [
    "AsyncEnvironBackend",
    "AsyncLocalFileBackend",
    "AsyncMemoryBackend",
    "DirectBackend",
    "ThreadedBackend",
    "offloaded",
]

T = TypeVar("T")
A = TypeVar("A", bound="ThreadedBackend")


class ThreadedBackend:
    """An :class:`~helium_secrets.backends.AsyncBackend` that runs a sync backend's calls in
    worker threads (``asyncio.to_thread``: the default executor, the caller's context carried
    along), so that the event loop never waits on its I/O.

    :param backend: the sync backend; :attr:`sync` keeps it (the tests' fault injection
        reaches it there).
    """

    #: (adapter class, sync class) -> the adapter's class for it, its extras included.
    _classes: dict[tuple[type, type], type] = {}

    def __init__(self, backend: Backend) -> None:
        self.sync = backend

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.sync!r}>"

    @classmethod
    def wrap(cls: type[A], backend: Backend) -> A:
        """``backend`` wrapped, with async versions of its extra operations."""
        key = (cls, type(backend))
        wrapper = cls._classes.get(key)
        if wrapper is None:
            extras = {name: _extra(name, spec) for name, spec in extra_operations(backend).items()}
            wrapper = type(f"{cls.__name__}[{type(backend).__name__}]", (cls,), extras)
            cls._classes[key] = wrapper
        made: A = wrapper(backend)
        return made

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    @property
    def name(self) -> str:
        return self.sync.name

    @property
    def capabilities(self) -> Capabilities:
        return self.sync.capabilities

    async def get(self, name: str, version: str | None = None,
                  label: str | None = None) -> RawSecret:
        return await self._run(self.sync.get, name, version, label)

    async def put(self, name: str, value: str | bytes, *, expected_version: str | None = None,
                  create_only: bool = False, request_token: str | None = None,
                  metadata: Mapping[str, str] | None = None,
                  labels: Sequence[str] = ()) -> VersionInfo:
        return await self._run(self.sync.put, name, value, expected_version=expected_version,
                               create_only=create_only, request_token=request_token,
                               metadata=metadata, labels=labels)

    async def delete(self, name: str, *, purge: bool = False) -> None:
        await self._run(self.sync.delete, name, purge=purge)

    async def list_names(self, prefix: str = "") -> Iterable[str]:
        # The listing is consumed in the thread too: a pager's next page is I/O.
        return await self._run(lambda: list(self.sync.list_names(prefix)))

    async def list_versions(self, name: str) -> list[VersionInfo]:
        return await self._run(self.sync.list_versions, name)

    async def current_version(self, name: str) -> str | VersionInfo:
        return await self._run(self.sync.current_version, name)

    async def get_many(self, names: Sequence[str]) -> dict[str, RawSecret | BaseException]:
        return await self._run(self.sync.get_many, names)

    async def set_label(self, name: str, label: str, version: str | None) -> None:
        await self._run(self.sync.set_label, name, label, version)

    async def stage(self, name: str, value: str | bytes, *, expected_current: str | None,
                    request_token: str | None = None) -> VersionInfo:
        return await self._run(self.sync.stage, name, value, expected_current=expected_current,
                               request_token=request_token)

    async def promote(self, name: str, version: str, *, expected_current: str | None) -> None:
        await self._run(self.sync.promote, name, version, expected_current=expected_current)

    async def discard(self, name: str, version: str) -> None:
        await self._run(self.sync.discard, name, version)

    async def staging_companion(self, name: str) -> str:
        return self.sync.staging_companion(name)  # a name's mapping: no I/O

    async def issue_lease(self, path: str) -> LeaseGrant:
        return await self._run(self.sync.issue_lease, path)

    async def renew_lease(self, lease_id: str, increment: float | None) -> LeaseGrant:
        return await self._run(self.sync.renew_lease, lease_id, increment)

    async def revoke_lease(self, lease_id: str) -> None:
        await self._run(self.sync.revoke_lease, lease_id)

    def lease_upkeep_due(self) -> float:
        return self.sync.lease_upkeep_due()  # no I/O

    async def lease_upkeep(self) -> None:
        await self._run(self.sync.lease_upkeep)

    def classify(self, exc: BaseException) -> Classified | None:
        return self.sync.classify(exc)

    async def aclose(self) -> None:
        await self._run(self.sync.close)


def _extra(operation: str, spec: ExtraOperation) -> Callable[..., Any]:
    """The adapter's method for the wrapped backend's extra ``operation``."""

    async def call(self: ThreadedBackend, name: str, *args: Any, **kwargs: Any) -> Any:
        return await self._run(getattr(self.sync, operation), name, *args, **kwargs)

    call.__name__ = operation
    return extra_operation(writes=spec.writes)(call)


class DirectBackend(ThreadedBackend):
    """For a sync backend that does no I/O: its calls run on the loop, with no thread."""

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return fn(*args, **kwargs)


def offloaded(backend: Backend) -> ThreadedBackend:
    """``backend`` for the async twin, in worker threads (the default for a backend with no
    async class of its own)."""
    return ThreadedBackend.wrap(backend)


class AsyncMemoryBackend(DirectBackend):
    """``mem://`` on the async twin: the same fake (shared by name as on the sync side),
    called on the loop; with :meth:`~helium_secrets.backends.memory.MemoryBackend.set_latency`
    set, its calls sleep in a thread instead."""

    @classmethod
    def from_url(cls, url: SplitResult, **options: Any) -> AsyncMemoryBackend:
        from helium_secrets.backends.memory import MemoryBackend

        return cls.wrap(MemoryBackend.from_url(url, **options))

    async def _run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if getattr(self.sync, "_latency", 0):  # the fake's latency is a blocking sleep
            return await asyncio.to_thread(fn, *args, **kwargs)
        return fn(*args, **kwargs)


class AsyncEnvironBackend(DirectBackend):
    """``env://`` on the async twin: the process environment, read on the loop (no I/O)."""

    @classmethod
    def from_url(cls, url: SplitResult, **options: Any) -> AsyncEnvironBackend:
        from helium_secrets.backends.environ import EnvironBackend

        return cls.wrap(EnvironBackend.from_url(url, **options))


class AsyncLocalFileBackend(ThreadedBackend):
    """``file://`` on the async twin: the encrypted file store, its file I/O (and the key
    derivation) in worker threads."""

    @classmethod
    def from_url(cls, url: SplitResult, **options: Any) -> AsyncLocalFileBackend:
        from helium_secrets.backends.localfile import LocalFileBackend

        return cls.wrap(LocalFileBackend.from_url(url, **options))
