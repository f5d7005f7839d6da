"""hvac's and requests' exceptions, as portable error codes (never quoting Vault's text)."""

from __future__ import annotations

import hvac
import hvac.exceptions
import requests
import requests.adapters

from helium_secrets.backends._base import (
    Classified,
)
from helium_secrets.errors import (
    ErrorCode,
)

__all__ = ["classify", "is_cas_mismatch", "status_of"]

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


def classify(exc: BaseException) -> Classified | None:
    """The portable verdict on an hvac or requests exception (``None``: not theirs)."""
    if isinstance(exc, hvac.exceptions.VaultError):
        return _classify_vault(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return Classified(ErrorCode.UNAVAILABLE,
                          "TLS with the Vault server failed (certificate not trusted?)",
                          transient=False)
    if isinstance(exc, requests.exceptions.Timeout):
        return Classified(ErrorCode.UNAVAILABLE, "the Vault server did not answer in time")
    if isinstance(exc, requests.exceptions.ConnectionError):
        return Classified(ErrorCode.UNAVAILABLE, "cannot connect to the Vault server")
    if isinstance(exc, requests.exceptions.RequestException):
        return Classified(ErrorCode.UNAVAILABLE, f"HTTP error talking to Vault "
                                                 f"({type(exc).__name__})")
    return None


def has_error(exc: hvac.exceptions.VaultError, text: str) -> bool:
    return any(text in str(error) for error in (exc.errors or ()))


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


