"""Key Vault's errors: azure-core exceptions mapped to portable codes."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)

from helium_secrets.backends._base import Classified
from helium_secrets.backends._display import shown_address
from helium_secrets.backends._hints import retry_after_from_headers
from helium_secrets.errors import ErrorCode

__all__ = ["classify"]


def _retry_after(exc: HttpResponseError) -> float | None:
    return retry_after_from_headers(getattr(exc.response, "headers", None))


def _in_chain(exc: BaseException, found: Callable[[BaseException], bool]) -> bool:
    """Whether ``exc`` or an error it wraps (azure-core's ``inner_exception``, causes and
    contexts) is one ``found`` recognises."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if found(current):
            return True
        inner = getattr(current, "inner_exception", None)
        todo += [inner if isinstance(inner, BaseException) else None,
                 current.__cause__, current.__context__]
    return False


def _is_tls_failure(exc: BaseException) -> bool:
    """Whether a connection error was TLS failing (not transient: retrying will not help)."""
    # requests and urllib3 wrap ssl.SSLError in their own classes named SSLError.
    return _in_chain(exc, lambda e: isinstance(e, ssl.SSLError)
                     or type(e).__name__ == "SSLError")


def _is_dropped(exc: BaseException) -> bool:
    """Whether the connection dropped after the request went out, which azure-core's aiohttp
    transport reports as a request error (the request may have taken effect)."""
    return _in_chain(exc, lambda e: type(e).__name__ == "ServerDisconnectedError")


#: What to do when no credential gets a token (azure-identity's own text lists attempts).
NO_CREDENTIAL = (
    "run `az login`, or set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET (a "
    "service principal), or run where a managed identity is assigned; or pass credential="
)


def classify(exc: BaseException, vault_url: str = "") -> Classified | None:
    """Map an azure-core / Key Vault exception to a portable code.

    Messages are built from the HTTP status and Key Vault's error codes only, never from the
    service's message text.

    :param vault_url: the vault, named in connection errors.
    """
    at = f" at {shown_address(vault_url)}" if vault_url else ""
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        status = exc.status_code
        code = exc.error.code if exc.error is not None else None
        inner = None
        if exc.error is not None and isinstance(exc.error.innererror, Mapping):
            inner = exc.error.innererror.get("code")
        said = f"Key Vault answered {status}" + (f" {code}" if code else "") + (
            f" ({inner})" if inner else ""
        )
        if status == 401:
            return Classified(ErrorCode.UNAUTHENTICATED, f"{said}: the token was refused")
        if status == 403:
            if inner in ("SecretDisabled", "SecretExpired", "SecretNotYetValid"):
                return Classified(ErrorCode.VERSION_NOT_FOUND,
                                  f"{said}: the secret version is not readable")
            return Classified(
                ErrorCode.PERMISSION_DENIED,
                f"{said}: the caller lacks the role or access policy for this operation",
            )
        if status == 404:
            return Classified(ErrorCode.NOT_FOUND, f"{said}: secret not found")
        if status == 409:
            return Classified(
                ErrorCode.CONFLICT,
                f"{said}: the name belongs to a deleted but recoverable secret (or one being "
                "deleted): recover it with store.extras.recover(name), purge it with "
                "store.extras.purge(name), or open the store with recover_deleted=True",
            )
        if status == 429:
            return Classified(ErrorCode.THROTTLED, f"{said}: throttled",
                              retry_after=_retry_after(exc))
        if status == 413:
            return Classified(ErrorCode.TOO_LARGE, said)
        if status == 400:
            return Classified(ErrorCode.INVALID_ARGUMENT, said)
        if status in (408, 504):
            return Classified(ErrorCode.DEADLINE_EXCEEDED, said, retry_after=_retry_after(exc))
        if status >= 500:
            return Classified(ErrorCode.UNAVAILABLE, said, retry_after=_retry_after(exc))
        return Classified(ErrorCode.UNKNOWN, said)
    if isinstance(exc, ClientAuthenticationError):
        # Raised by azure-identity when no token could be had (no HTTP status from the vault).
        return Classified(ErrorCode.UNAUTHENTICATED,
                          f"no Azure credential could get a token ({type(exc).__name__}): "
                          f"{NO_CREDENTIAL}")
    if isinstance(exc, (ServiceRequestTimeoutError, ServiceResponseTimeoutError)):
        return Classified(ErrorCode.DEADLINE_EXCEEDED, f"the request to Key Vault{at} timed out")
    if isinstance(exc, ServiceResponseError) or (
            isinstance(exc, ServiceRequestError) and _is_dropped(exc)):
        return Classified(ErrorCode.UNAVAILABLE,
                          f"the connection to Key Vault{at} dropped before it answered")
    if isinstance(exc, ServiceRequestError):
        if _is_tls_failure(exc):
            return Classified(ErrorCode.UNAVAILABLE,
                              f"the TLS handshake with the vault{at} failed (its certificate is "
                              "not trusted? connection_verify= names a CA bundle)",
                              transient=False)
        return Classified(ErrorCode.UNAVAILABLE,
                          f"could not connect to Key Vault{at}: check the vault's name (the "
                          "azurekeyvault:// URL's host) and the network")
    if isinstance(exc, ValueError) and "challenge" in str(exc):
        return Classified(
            ErrorCode.UNAUTHENTICATED,
            "the vault's authentication challenge does not match the vault URL "
            "(verify_challenge_resource)",
            transient=False,
        )
    return None
