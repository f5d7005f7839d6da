"""``helium-secrets access NAME...``: who can read each secret, from the service's own policy
data (the backend's optional ``access`` operation), and "unknown", said plainly, where the
backend cannot tell."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from helium_secrets._store import SecretStore
from helium_secrets.access import AccessReview
from helium_secrets.cli._main import ExitCode, _display_url, _print_json

__all__ = ["SCHEMA_ID", "access_document", "register", "review"]

#: The ``schema`` of the JSON output (docs/cli.md describes it).
SCHEMA_ID = "helium-secrets/access/v1"

#: Why a backend without the operation cannot tell, by backend name.
_UNKNOWN = {
    "azure": "Key Vault's access policies and Azure RBAC role assignments are kept by Azure "
             "Resource Manager, not by the vault's data-plane API the store talks to",
    "awsssm": "Parameter Store has no resource policy: only IAM identity policies grant "
              "access, and a parameter does not list them",
    "file": "anyone who can read the store's directory and its key file can read every "
            "secret in it",
    "memory": "the store lives in one process; whoever runs in it can read it",
    "env": "every process that inherits the environment can read it",
    "dotenv": "anyone who can read the .env file can read every secret in it",
}


def review(store: SecretStore, name: str) -> AccessReview | None:
    """The backend's access review of ``name``, or ``None`` when the backend cannot tell."""
    if "access" not in dir(store.extras):
        return None
    result: AccessReview = store.extras.access(name)
    return result


def access_document(result: AccessReview | None, backend: str, *,
                    reason: str | None = None) -> dict[str, Any]:
    """One secret's review as JSON; ``known`` is false where the backend cannot tell (or
    ``reason`` says why there is no review)."""
    if result is None:
        return {"known": False, "reason": reason or _UNKNOWN.get(
            backend, f"the {backend} backend cannot tell who can read a secret"),
            "read_from": None, "complete": False, "not_shown": None, "grants": [],
            "readers": []}
    return {"known": True, "reason": None, "read_from": result.read_from,
            "complete": result.complete, "not_shown": result.not_shown or None,
            "grants": [asdict(g) for g in result.grants], "readers": list(result.readers)}


def _table(name: str, document: dict[str, Any], backend: str) -> None:
    if not document["known"]:
        sys.stdout.write(f"{name}: unknown: {document['reason']}\n")
        return
    sys.stdout.write(f"{name} ({backend}, from {document['read_from']}):\n")
    rows = [("PRINCIPAL", "EFFECT", "ACTIONS", "SOURCE")] + [
        (g["principal"], g["effect"] + (" (conditional)" if g["conditional"] else ""),
         ",".join(g["actions"]), g["source"]) for g in document["grants"]]
    if len(rows) == 1:
        sys.stdout.write("  no grant found\n")
    else:
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        for r in rows:
            sys.stdout.write("  " + "  ".join(c.ljust(w) for c, w in zip(r, widths,
                                                                         strict=False))
                             + "  " + r[3] + "\n")
    if document["not_shown"]:
        sys.stdout.write(f"  not shown: {document['not_shown']}\n")


def _cmd_access(store: SecretStore, args: argparse.Namespace) -> int:
    backend = store.backend.name
    documents = {name: access_document(review(store, name), backend) for name in args.names}
    if args.json:
        _print_json({"schema": SCHEMA_ID, "store": _display_url(args.store_url),
                     "backend": backend,
                     "secrets": [{"name": n, **d} for n, d in documents.items()]})
    else:
        for name, document in documents.items():
            _table(name, document, backend)
    return ExitCode.OK


def register(command: Callable[..., argparse.ArgumentParser]) -> None:
    """Add ``access`` to the parser (``command`` is the parser's subcommand factory)."""
    cmd = command("access", "list who can read a secret, from the service's own policies",
                  _cmd_access)
    cmd.add_argument("names", nargs="+", metavar="NAME")
