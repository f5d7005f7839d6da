"""How backends show where they connect, in errors and reprs: never with a credential."""

from __future__ import annotations

from urllib.parse import urlsplit

__all__ = ["shown_address"]


def shown_address(address: str | None) -> str:
    """``address`` without user info, query or fragment (they may carry credentials).

    :param address: a URL (``https://user:pw@host:8200/x?token=...``) or a bare ``host:port``.
    """
    if not address:
        return "(no address)"
    try:
        parts = urlsplit(address if "//" in address else "//" + address)
    except ValueError:
        return "(an unparsable address)"
    netloc = parts.netloc.rpartition("@")[2]
    scheme = f"{parts.scheme}://" if parts.scheme else ""
    return f"{scheme}{netloc}{parts.path.rstrip('/')}"
