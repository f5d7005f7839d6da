"""hvac's and requests' exceptions, as portable error codes (never quoting Vault's text)."""

from __future__ import annotations

import hvac
import hvac.exceptions
import requests
import requests.adapters

from helium_secrets.backends._base import (
    Classified,
)
from helium_secrets.backends._display import shown_address
from helium_secrets.errors import (
    ErrorCode,
)

__all__ = ["classify", "has_warning", "is_cas_mismatch", "status_of", "transport_verdict"]

_STATUS_OF: dict[type[Exception], int] = {
    hvac.exceptions.InvalidRequest: 400,
    hvac.exceptions.Unauthorized: 401,
    hvac.exceptions.Forbidden: 403,
    hvac.exceptions.InvalidPath: 404,
    hvac.exceptions.PreconditionFailed: 412,
    hvac.exceptions.RateLimitExceeded: 429,
    hvac.exceptions.InternalServerError: 500,
    hvac.exceptions.VaultNotInitialized: 501,
    hvac.exceptions.BadGateway: 502,
    hvac.exceptions.VaultDown: 503,
}


def status_of(exc: BaseException) -> int | None:
    status = getattr(exc, "helium_status", None)
    if isinstance(status, int):
        return status
    for cls, code in _STATUS_OF.items():
        if isinstance(exc, cls):
            return code
    return None


#: What OpenSSL says when the other end answered a TLS hello in plain http (matched only).
_PLAIN_HTTP_SIGNS = ("wrong version number", "record layer failure", "http request",
                     "packet length too long", "unknown protocol")


def classify(exc: BaseException, address: str = "") -> Classified | None:
    """The portable verdict on an hvac or requests exception (``None``: not theirs).

    :param address: the server's address, named in connection errors (no credentials).
    """
    if isinstance(exc, hvac.exceptions.VaultError):
        return _classify_vault(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return transport_verdict("tls", address, str(exc))
    if isinstance(exc, requests.exceptions.Timeout):
        return transport_verdict("timeout", address)
    if isinstance(exc, requests.exceptions.ConnectionError):
        return transport_verdict("connect", address)
    if isinstance(exc, requests.exceptions.RequestException):
        return transport_verdict("http", address, type(exc).__name__)
    return None


def transport_verdict(kind: str, address: str, detail: str = "") -> Classified:
    """The verdict on a failure below HTTP, whichever client (requests, httpx) saw it.

    :param kind: ``tls`` (``detail``: the TLS error's text, matched, never quoted),
        ``timeout``, ``connect`` or ``http`` (``detail``: the exception's class name).
    """
    at = f" at {shown_address(address)}" if address else ""
    if kind == "tls":
        if any(sign in detail.lower() for sign in _PLAIN_HTTP_SIGNS):
            return Classified(
                ErrorCode.UNAVAILABLE,
                f"TLS with the Vault server{at} failed: the server speaks plain http (a dev "
                "server?); add ?tls=false to the vault:// URL, or use an http:// VAULT_ADDR",
                transient=False)
        return Classified(
            ErrorCode.UNAVAILABLE,
            f"TLS with the Vault server{at} failed: its certificate is not trusted; pass "
            "ca_cert= (or VAULT_CACERT) with the CA that signed it", transient=False)
    if kind == "timeout":
        return Classified(ErrorCode.UNAVAILABLE,
                          f"the Vault server{at} did not answer in time (timeout= sets the "
                          "seconds per request)")
    if kind == "connect":
        return Classified(ErrorCode.UNAVAILABLE,
                          f"cannot connect to the Vault server{at}: is it running there? "
                          "(the vault:// URL's host and port, or VAULT_ADDR)")
    return Classified(ErrorCode.UNAVAILABLE, f"HTTP error talking to Vault{at} ({detail})")


def has_error(exc: hvac.exceptions.VaultError, text: str) -> bool:
    return any(text in str(error) for error in (exc.errors or ()))


def has_warning(exc: hvac.exceptions.VaultError, text: str) -> bool:
    body = exc.json if isinstance(exc.json, dict) else {}
    return any(text in str(warning) for warning in (body.get("warnings") or ()))


def is_cas_mismatch(exc: hvac.exceptions.VaultError) -> bool:
    return has_error(exc, "check-and-set")


def _classify_vault(exc: hvac.exceptions.VaultError) -> Classified:
    # Messages come from the status alone: Vault's error text may echo request data.
    status = status_of(exc)
    if isinstance(exc, hvac.exceptions.InvalidPath):
        return Classified(ErrorCode.NOT_FOUND, "secret not found")
    if isinstance(exc, hvac.exceptions.Forbidden):
        return Classified(ErrorCode.PERMISSION_DENIED, "permission denied by Vault policy (HTTP 403)")
    if isinstance(exc, hvac.exceptions.Unauthorized):
        return Classified(ErrorCode.UNAUTHENTICATED, "Vault rejected the credentials (HTTP 401)")
    if isinstance(exc, hvac.exceptions.InvalidRequest):
        if is_cas_mismatch(exc):
            return Classified(ErrorCode.CONFLICT, "check-and-set failed: the version changed")
        if has_error(exc, "Upgrading from non-versioned to versioned data"):
            # A new or upgraded KV v2 mount refuses requests for a moment, with a 400.
            return Classified(ErrorCode.UNAVAILABLE, "the KV mount is being upgraded (HTTP 400)")
        return Classified(ErrorCode.INVALID_ARGUMENT, "Vault rejected the request (HTTP 400)")
    if isinstance(exc, hvac.exceptions.RateLimitExceeded):
        retry_after = getattr(exc, "helium_retry_after", None)
        return Classified(ErrorCode.THROTTLED, "Vault rate limit quota exceeded (HTTP 429)",
                          retry_after=retry_after if isinstance(retry_after, float) else None)
    if isinstance(exc, hvac.exceptions.VaultDown):
        return Classified(ErrorCode.UNAVAILABLE, "Vault is sealed or on standby (HTTP 503)")
    if isinstance(exc, hvac.exceptions.ParamValidationError):
        return Classified(ErrorCode.INVALID_ARGUMENT, "invalid parameters for the Vault API")
    if status is not None and (status >= 500 or status in (408, 412)):
        return Classified(ErrorCode.UNAVAILABLE, f"Vault server error (HTTP {status})")
    shown = f"HTTP {status}" if status is not None else type(exc).__name__
    return Classified(ErrorCode.UNKNOWN, f"unexpected Vault error ({shown})")


