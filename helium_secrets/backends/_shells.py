"""The portable methods of a backend whose operations are flows (:mod:`._flows`), once for
sync and once for async: :class:`SyncShell` runs each flow on the backend's client, and
:class:`AsyncShell` awaits it on the async client. A backend implements the flows
(:class:`Operations`) and ``_run``; its extras (``@extra_operation``) are its own."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import ClassVar, TypeVar

from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import RawSecret
from helium_secrets.backends._flows import Flow
from helium_secrets.errors import UnsupportedError

__all__ = ["AsyncShell", "Operations", "SyncShell"]

T = TypeVar("T")
_RawOrError = dict[str, RawSecret | BaseException]


class Operations:
    """The raw operations as flows, named after the protocol's methods with a ``_`` first.
    The optional ones have defaults: ``_get_many`` is one ``_get`` per name (per-name errors
    are values); staged rotation is unsupported."""

    name: ClassVar[str]

    def _get(self, name: str, version: str | None = None, label: str | None = None,
             ) -> Flow[RawSecret]:
        raise NotImplementedError

    def _get_many(self, names: Sequence[str]) -> Flow[_RawOrError]:
        out: _RawOrError = {}
        for name in names:
            try:
                out[name] = yield from self._get(name)
            except Exception as exc:  # per-item errors are values, classified by the store
                out[name] = exc
        return out

    def _current_version(self, name: str) -> Flow[str | VersionInfo]:
        raise NotImplementedError

    def _list_names(self, prefix: str = "") -> Flow[list[str]]:
        raise NotImplementedError

    def _list_versions(self, name: str) -> Flow[list[VersionInfo]]:
        raise NotImplementedError

    def _put(self, name: str, value: str | bytes, *, expected_version: str | None = None,
             create_only: bool = False, request_token: str | None = None,
             metadata: Mapping[str, str] | None = None, labels: Sequence[str] = (),
             ) -> Flow[VersionInfo]:
        raise NotImplementedError

    def _set_label(self, name: str, label: str, version: str | None) -> Flow[None]:
        raise NotImplementedError

    def _stage(self, name: str, value: str | bytes, *, expected_current: str | None,
               request_token: str | None = None) -> Flow[VersionInfo]:
        raise self._no_staging()

    def _promote(self, name: str, version: str, *, expected_current: str | None) -> Flow[None]:
        raise self._no_staging()

    def _discard(self, name: str, version: str) -> Flow[None]:
        raise self._no_staging()

    def _no_staging(self) -> UnsupportedError:
        return UnsupportedError(f"the {self.name} backend has no staged rotation")

    def _delete(self, name: str, *, purge: bool = False) -> Flow[None]:
        raise NotImplementedError


class SyncShell(Operations):
    """The protocol's methods, each running its flow with ``_run``."""

    def _run(self, flow: Flow[T]) -> T:
        raise NotImplementedError

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        return self._run(self._get(name, version, label))

    def get_many(self, names: Sequence[str]) -> _RawOrError:
        return self._run(self._get_many(names))

    def current_version(self, name: str) -> str | VersionInfo:
        return self._run(self._current_version(name))

    def list_names(self, prefix: str = "") -> Iterator[str]:
        return iter(self._run(self._list_names(prefix)))

    def list_versions(self, name: str) -> list[VersionInfo]:
        return self._run(self._list_versions(name))

    def put(self, name: str, value: str | bytes, *, expected_version: str | None = None,
            create_only: bool = False, request_token: str | None = None,
            metadata: Mapping[str, str] | None = None, labels: Sequence[str] = (),
            ) -> VersionInfo:
        return self._run(self._put(
            name, value, expected_version=expected_version, create_only=create_only,
            request_token=request_token, metadata=metadata, labels=labels))

    def set_label(self, name: str, label: str, version: str | None) -> None:
        self._run(self._set_label(name, label, version))

    def stage(self, name: str, value: str | bytes, *, expected_current: str | None,
              request_token: str | None = None) -> VersionInfo:
        return self._run(self._stage(name, value, expected_current=expected_current,
                                     request_token=request_token))

    def promote(self, name: str, version: str, *, expected_current: str | None) -> None:
        self._run(self._promote(name, version, expected_current=expected_current))

    def discard(self, name: str, version: str) -> None:
        self._run(self._discard(name, version))

    def delete(self, name: str, *, purge: bool = False) -> None:
        self._run(self._delete(name, purge=purge))


class AsyncShell(Operations):
    """The protocol's methods, awaited: each awaits its flow with ``_run``."""

    async def _run(self, flow: Flow[T]) -> T:
        raise NotImplementedError

    async def get(self, name: str, version: str | None = None,
                  label: str | None = None) -> RawSecret:
        return await self._run(self._get(name, version, label))

    async def get_many(self, names: Sequence[str]) -> _RawOrError:
        return await self._run(self._get_many(names))

    async def current_version(self, name: str) -> str | VersionInfo:
        return await self._run(self._current_version(name))

    async def list_names(self, prefix: str = "") -> Iterator[str]:
        return iter(await self._run(self._list_names(prefix)))

    async def list_versions(self, name: str) -> list[VersionInfo]:
        return await self._run(self._list_versions(name))

    async def put(self, name: str, value: str | bytes, *,
                  expected_version: str | None = None, create_only: bool = False,
                  request_token: str | None = None, metadata: Mapping[str, str] | None = None,
                  labels: Sequence[str] = ()) -> VersionInfo:
        return await self._run(self._put(
            name, value, expected_version=expected_version, create_only=create_only,
            request_token=request_token, metadata=metadata, labels=labels))

    async def set_label(self, name: str, label: str, version: str | None) -> None:
        await self._run(self._set_label(name, label, version))

    async def stage(self, name: str, value: str | bytes, *, expected_current: str | None,
                    request_token: str | None = None) -> VersionInfo:
        return await self._run(self._stage(name, value, expected_current=expected_current,
                                           request_token=request_token))

    async def promote(self, name: str, version: str, *, expected_current: str | None) -> None:
        await self._run(self._promote(name, version, expected_current=expected_current))

    async def discard(self, name: str, version: str) -> None:
        await self._run(self._discard(name, version))

    async def delete(self, name: str, *, purge: bool = False) -> None:
        await self._run(self._delete(name, purge=purge))
