"""Leased credentials from Vault's dynamic-secrets engines (``database/creds/ROLE``, ...).

A read of such a path issues new credentials with a lease; ``sys/leases/renew`` extends the
lease (never past the role's maximum TTL) and ``sys/leases/revoke`` ends it. The leases are
children of the token that issued them: Vault revokes them with it, so the token must outlive
them (the token session renews it on these very calls).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import hvac

from helium_secrets.backends._base import LeaseGrant
from helium_secrets.errors import InvalidArgumentError

__all__ = ["issue", "renew", "revoke"]

T = TypeVar("T")
Run = Callable[[Callable[[], T]], T]


def _grant(response: Any, *, issued: bool) -> LeaseGrant:
    body: Mapping[str, Any] = response if isinstance(response, Mapping) else {}
    lease_id = str(body.get("lease_id") or "")
    if not lease_id:
        raise InvalidArgumentError(
            "this Vault path issues no lease: a dynamic-secrets path such as "
            "'database/creds/ROLE' does (KV secrets are read with get)")
    data = body.get("data") if issued else None
    fields = {
        str(key): value if isinstance(value, str) else json.dumps(value)
        for key, value in (data or {}).items() if value is not None
    }
    return LeaseGrant(lease_id=lease_id, duration=float(body.get("lease_duration") or 0),
                      renewable=bool(body.get("renewable")), data=fields)


def issue(run: Run[Any], client: hvac.Client, path: str) -> LeaseGrant:
    """Read ``path``, which issues new credentials under a new lease."""
    return _grant(run(lambda: client.read(path)), issued=True)


def renew(run: Run[Any], client: hvac.Client, lease_id: str,
          increment: float | None) -> LeaseGrant:
    """Extend ``lease_id`` by ``increment`` seconds; the grant says what Vault allowed."""
    seconds = max(1, round(increment)) if increment is not None else None
    return _grant(run(lambda: client.sys.renew_lease(lease_id, increment=seconds)),
                  issued=False)


def revoke(run: Run[Any], client: hvac.Client, lease_id: str) -> None:
    """End ``lease_id`` now: Vault drops the credentials it issued."""
    run(lambda: client.sys.revoke_lease(lease_id))
