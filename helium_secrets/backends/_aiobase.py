"""Defaults for an async backend's optional operations (the async twin of
:class:`~helium_secrets.backends._base.BackendBase`), so it implements only what it has."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import Classified, LeaseGrant, RawSecret
from helium_secrets.errors import UnsupportedError

__all__ = ["AsyncBackendBase"]


class AsyncBackendBase:
    """The optional operations of the backend protocol, awaited: unsupported, or made of
    the required ones (``get_many`` of ``get``, ``current_version`` of ``get``)."""

    name: ClassVar[str] = "backend"

    async def get(self, name: str, version: str | None = None,
                  label: str | None = None) -> RawSecret:
        raise NotImplementedError

    async def current_version(self, name: str) -> str | VersionInfo:
        return (await self.get(name)).version

    async def get_many(self, names: Sequence[str]) -> dict[str, RawSecret | BaseException]:
        out: dict[str, RawSecret | BaseException] = {}
        for name in names:
            try:
                out[name] = await self.get(name)
            except Exception as exc:  # per-item errors are values, classified by the store
                out[name] = exc
        return out

    async def set_label(self, name: str, label: str, version: str | None) -> None:
        raise self._unsupported("labels")

    async def stage(self, name: str, value: str | bytes, *, expected_current: str | None,
                    request_token: str | None = None) -> VersionInfo:
        raise self._unsupported("staged rotation")

    async def promote(self, name: str, version: str, *, expected_current: str | None) -> None:
        raise self._unsupported("staged rotation")

    async def discard(self, name: str, version: str) -> None:
        raise self._unsupported("staged rotation")

    async def staging_companion(self, name: str) -> str:
        raise self._unsupported("staged rotation")

    async def issue_lease(self, path: str) -> LeaseGrant:
        raise self._unsupported("leases")

    async def renew_lease(self, lease_id: str, increment: float | None) -> LeaseGrant:
        raise self._unsupported("leases")

    async def revoke_lease(self, lease_id: str) -> None:
        raise self._unsupported("leases")

    def lease_upkeep_due(self) -> float:
        return float("inf")

    async def lease_upkeep(self) -> None:
        return None

    def _unsupported(self, what: str) -> UnsupportedError:
        return UnsupportedError(f"the {self.name} backend has no {what}")

    def classify(self, exc: BaseException) -> Classified | None:
        return None

    async def aclose(self) -> None:
        return None
