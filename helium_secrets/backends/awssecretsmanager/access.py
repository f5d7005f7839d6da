"""Who a secret's resource policy lets read it: the statements of an IAM policy document that
allow or deny ``secretsmanager:GetSecretValue``, free of I/O (the backend calls
``GetResourcePolicy``)."""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator
from typing import Any, Literal

from helium_secrets.access import AccessReview, Grant

__all__ = ["review"]

_READ = "secretsmanager:getsecretvalue"
_NOT_SHOWN = ("IAM identity policies of the account's users and roles (and the KMS key's "
              "policy) can also grant access; a secret's resource policy does not show them")


def _list(node: Any) -> list[str]:
    if node is None:
        return []
    return [str(n) for n in node] if isinstance(node, list) else [str(node)]


def _reads(statement: dict[str, Any]) -> bool:
    if "NotAction" in statement:
        return not any(fnmatch.fnmatchcase(_READ, a.lower()) for a in _list(statement["NotAction"]))
    return any(fnmatch.fnmatchcase(_READ, a.lower()) for a in _list(statement.get("Action")))


def _principals(statement: dict[str, Any]) -> Iterator[str]:
    if "NotPrincipal" in statement:
        yield "everyone except " + ", ".join(sorted(_principals({"Principal":
                                                                  statement["NotPrincipal"]})))
        return
    principal = statement.get("Principal")
    if principal == "*" or principal is None:
        yield "*"
        return
    if isinstance(principal, dict):
        for kind, who in sorted(principal.items()):
            for one in _list(who):
                yield one if kind == "AWS" else f"{kind}:{one}"


def _grants(document: dict[str, Any]) -> Iterator[Grant]:
    statements = document.get("Statement") or []
    for index, statement in enumerate(statements if isinstance(statements, list)
                                      else [statements]):
        if not isinstance(statement, dict) or not _reads(statement):
            continue
        sid = statement.get("Sid") or f"#{index + 1}"
        effect: Literal["allow", "deny"] = (
            "deny" if str(statement.get("Effect")).lower() == "deny" else "allow")
        actions = tuple(_list(statement.get("Action") or statement.get("NotAction")))
        for principal in _principals(statement):
            yield Grant(principal, actions, effect=effect,
                        source=f"resource policy, statement {sid}",
                        conditional=bool(statement.get("Condition")))


def review(name: str, policy: str | None) -> AccessReview:
    """The grants of ``policy`` (the ``ResourcePolicy`` JSON text, ``None`` when the secret has
    none) that concern reading secret ``name``."""
    grants: tuple[Grant, ...] = ()
    if policy:
        document = json.loads(policy)
        grants = tuple(_grants(document if isinstance(document, dict) else {}))
    return AccessReview(name, grants, read_from="GetResourcePolicy", complete=False,
                        not_shown=_NOT_SHOWN)
