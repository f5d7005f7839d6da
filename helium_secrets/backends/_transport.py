"""The transport rules every backend applies, written once (docs/concepts.md#transport-tls-and-redirects).

* Plain http (or plaintext gRPC) goes only to a loopback address, unless the backend's
  ``allow_insecure_http`` option says the network in between is trusted. Backends check the
  address their SDK client will really use (after the SDK has read its own environment
  variables and config files), before any connection.
* A redirect is followed only within its origin (scheme, host and port): one to another
  origin, or from https to plain http, is refused before anything is sent there, so no
  credential header and no request body reaches a server other than the configured one.

Nothing here imports an SDK: the hook for requests' sessions only reads the response it is
given.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urljoin, urlsplit

from helium_secrets.errors import UnavailableError

__all__ = ["OPT_IN", "check_plaintext", "check_redirect", "is_loopback", "origin",
           "refuse_cross_origin_redirects"]

#: The one option, on every backend that can speak plaintext, that allows it off loopback.
OPT_IN = "allow_insecure_http"
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback address (``127.0.0.0/8``, ``::1``, and
    IPv4-mapped ``::ffff:127.x.y.z``); any other name is not, whatever it resolves to."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])  # an IPv6 zone is no address
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def origin(url: str) -> str:
    """``scheme://host:port`` of ``url``, the port made explicit, without user info, path or
    query (so it is safe to show): two URLs are the same origin when these are equal."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    try:
        port = parts.port or _DEFAULT_PORTS.get(scheme)
    except ValueError:
        port = None  # not a number: no origin that matches anything
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}" + (f":{port}" if port is not None else "")


def check_plaintext(
    url: str, *, service: str, allowed: bool, fix: str = "use https://",
    what: str = "plain http",
) -> None:
    """Refuse ``url`` if it is plain ``http://`` to an address off loopback, unless ``allowed``
    (the backend's ``allow_insecure_http``).

    :param service: what is being addressed, for the message ("the Vault server").
    :param fix: the first remedy the message offers.
    :param what: the kind of plaintext, for the message ("plaintext gRPC").
    :raises ValueError: saying which address was refused and what to change.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or allowed or is_loopback(parts.hostname or ""):
        return
    raise ValueError(
        f"refusing {what} to {service} at {origin(url)}, which is not a loopback address: "
        f"{fix}, or pass {OPT_IN}=True if the network is trusted"
    )


def check_redirect(source: str, location: str) -> None:
    """Refuse to follow a redirect from the request URL ``source`` to ``location`` (resolved
    against it) that changes the origin, which includes a downgrade to plain http.

    :raises UnavailableError: (not transient) naming both origins, never a credential.
    """
    target = urljoin(source, location)
    if origin(target) == origin(source):
        return
    raise UnavailableError(
        f"refused a redirect from {origin(source)} to another origin, {origin(target)}: "
        "nothing was sent there. Configure the address of the server that answers itself "
        "(a Vault HA standby redirects to the active node: address it, or a load balancer)",
        transient=False,
    )


def refuse_cross_origin_redirects(session: Any) -> None:
    """Make a ``requests.Session`` (or a subclass, such as google-auth's
    ``AuthorizedSession``) refuse cross-origin redirects, before it follows one.

    requests follows redirects anywhere and keeps every header but ``Authorization``
    (``X-Vault-Token`` included) and a 307's body; its response hooks run before it follows,
    on the first answer and on each redirected one.
    """
    hooks = session.hooks.setdefault("response", [])
    if _redirect_hook not in hooks:
        hooks.insert(0, _redirect_hook)


def _redirect_hook(response: Any, *args: Any, **kwargs: Any) -> None:
    if response.is_redirect:
        check_redirect(response.request.url, response.headers["location"])
