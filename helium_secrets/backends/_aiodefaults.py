"""Defaults for the optional operations of an async backend (the awaited twin of
:class:`~helium_secrets.backends._base.BackendBase`'s), so that an async backend has every
method of the sync protocol and implements only what its service has."""

from __future__ import annotations

from typing import ClassVar

from helium_secrets.backends._base import LeaseGrant
from helium_secrets.errors import UnsupportedError

__all__ = ["AsyncBackendDefaults"]


class AsyncBackendDefaults:
    """The defaults, awaited: no staging companion and no leases."""

    name: ClassVar[str] = "backend"

    async def staging_companion(self, name: str) -> str:
        raise self._unsupported("staged rotation")

    async def issue_lease(self, path: str) -> LeaseGrant:
        raise self._unsupported("leases")

    async def renew_lease(self, lease_id: str, increment: float | None) -> LeaseGrant:
        raise self._unsupported("leases")

    async def revoke_lease(self, lease_id: str) -> None:
        raise self._unsupported("leases")

    def _unsupported(self, what: str) -> Exception:
        return UnsupportedError(f"the {self.name} backend has no {what}")
