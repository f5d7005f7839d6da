"""Telling a misconfigured mount, KV version or namespace from a missing secret.

Vault answers 404 to all of them. Its answer often says which (matched here, never quoted);
where it does not, one cheap call (the mount's description) tells a KV version 1 mount from a
version 2 one. That call is made on the error path only, at most once per backend.
"""

from __future__ import annotations

import hvac.exceptions

from helium_secrets.backends._display import shown_address
from helium_secrets.backends.hashivault.classify import has_error, has_warning

__all__ = ["answered_problem", "relative_name_hint", "version_mismatch"]


def answered_problem(
    exc: hvac.exceptions.InvalidPath,
    *,
    address: str,
    mount: str,
    kv_version: int,
    namespace: str | None,
) -> str | None:
    """What is wrong with the backend's configuration, as a 404's answer shows it, or ``None``
    (then, on a version 2 mount, :func:`version_mismatch` with the mount's described version
    tells the rest; otherwise the 404 means what it says: no such secret)."""
    where = _where(address, namespace)
    if has_error(exc, "namespace not found"):
        return (f"the namespace {namespace!r} does not exist on the Vault server at "
                f"{shown_address(address)}: check namespace= (or VAULT_NAMESPACE)")
    if has_error(exc, "no handler for route"):
        elsewhere = (" (or it is mounted in another namespace: check namespace=)" if namespace
                     else " (in a namespace? pass ?namespace=)")
        return (f"no secrets engine is mounted at {mount + '/'!r} on {where}: the vault:// URL's "
                f"path is the KV mount (vault://host:port/MOUNT){elsewhere}")
    if kv_version == 1 and has_warning(exc, "Invalid path for a versioned K/V"):
        return (f"the mount {mount!r} on {where} is KV version 2, but the backend is set "
                "to version 1: remove kv_version=1 (2 is the default)")
    return None


def version_mismatch(mount_version: int | None, *, address: str, mount: str,
                     namespace: str | None) -> str | None:
    """The problem of a backend set to KV version 2 on a mount the server describes as
    ``mount_version`` (``None``: unknown), or ``None``."""
    if mount_version == 1:
        return (f"the mount {mount!r} on {_where(address, namespace)} is KV version 1, but the "
                "backend is set to version 2 (the default): add ?kv_version=1 to the URL")
    return None


def _where(address: str, namespace: str | None) -> str:
    return shown_address(address) + (f" in namespace {namespace!r}" if namespace else "")


def relative_name_hint(name: str, mount: str) -> str | None:
    """``names are relative to the mount`` when ``name`` starts with it (``secret/example``,
    as ``bao kv get`` takes it), else ``None``."""
    rest = name[len(mount) + 1:] if name.startswith(mount + "/") else ""
    if not rest:
        return None
    return (f"names are relative to the mount {mount!r}: {name!r} is {mount}/{name} on the "
            f"server; did you mean {rest!r}?")
