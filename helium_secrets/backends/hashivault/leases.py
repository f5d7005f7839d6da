"""Leased credentials from Vault's dynamic-secrets engines (``database/creds/ROLE``, ...).

A read of such a path issues new credentials with a lease; ``sys/leases/renew`` extends the
lease (never past the role's maximum TTL) and ``sys/leases/revoke`` ends it. The leases are
children of the token that issued them: Vault revokes them with it, so the token must outlive
them (the token session renews it on these very calls). The calls are steps (see
:mod:`.core`) that both backends send.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import hvac.exceptions

from helium_secrets.backends._base import LeaseGrant
from helium_secrets.backends._steps import Steps
from helium_secrets.backends.hashivault.core import Call
from helium_secrets.errors import InvalidArgumentError

__all__ = ["issue", "renew", "revoke"]


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


def issue(path: str) -> Steps[Call, LeaseGrant]:
    """Read ``path``, which issues new credentials under a new lease (a 404 issues none)."""
    try:
        answer = yield Call("GET", path)
    except hvac.exceptions.InvalidPath:
        answer = None
    return _grant(answer, issued=True)


def renew(lease_id: str, increment: float | None) -> Steps[Call, LeaseGrant]:
    """Extend ``lease_id`` by ``increment`` seconds; the grant says what Vault allowed."""
    seconds = max(1, round(increment)) if increment is not None else None
    return _grant((yield Call("PUT", "sys/leases/renew",
                              body={"lease_id": lease_id, "increment": seconds})),
                  issued=False)


def revoke(lease_id: str) -> Steps[Call, None]:
    """End ``lease_id`` now: Vault drops the credentials it issued."""
    yield Call("PUT", "sys/leases/revoke", body={"lease_id": lease_id})
