"""GCP's errors: google-api-core, gRPC, google-auth and (for the REST transport) requests
exceptions mapped to portable codes.

Messages are built from status names and the service's fixed error reasons, never from its
free text.
"""

from __future__ import annotations

import grpc
import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions

from helium_secrets.backends._base import Classified
from helium_secrets.backends._display import shown_address
from helium_secrets.backends._hints import retry_after_from_headers
from helium_secrets.errors import ErrorCode

__all__ = ["classify"]

_CODES: dict[grpc.StatusCode, tuple[ErrorCode, bool | None]] = {
    grpc.StatusCode.NOT_FOUND: (ErrorCode.NOT_FOUND, None),
    grpc.StatusCode.PERMISSION_DENIED: (ErrorCode.PERMISSION_DENIED, None),
    grpc.StatusCode.UNAUTHENTICATED: (ErrorCode.UNAUTHENTICATED, None),
    grpc.StatusCode.ALREADY_EXISTS: (ErrorCode.CONFLICT, None),
    grpc.StatusCode.ABORTED: (ErrorCode.CONFLICT, None),
    grpc.StatusCode.FAILED_PRECONDITION: (ErrorCode.CONFLICT, None),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (ErrorCode.THROTTLED, None),
    grpc.StatusCode.UNAVAILABLE: (ErrorCode.UNAVAILABLE, None),
    grpc.StatusCode.INTERNAL: (ErrorCode.UNAVAILABLE, None),
    grpc.StatusCode.CANCELLED: (ErrorCode.UNAVAILABLE, None),
    grpc.StatusCode.DEADLINE_EXCEEDED: (ErrorCode.DEADLINE_EXCEEDED, None),
    grpc.StatusCode.INVALID_ARGUMENT: (ErrorCode.INVALID_ARGUMENT, None),
    grpc.StatusCode.OUT_OF_RANGE: (ErrorCode.INVALID_ARGUMENT, None),
    grpc.StatusCode.UNIMPLEMENTED: (ErrorCode.UNSUPPORTED, None),
    grpc.StatusCode.UNKNOWN: (ErrorCode.UNKNOWN, None),
}


#: The codes whose errors may carry the service's own retry delay.
_HINTED = (ErrorCode.THROTTLED, ErrorCode.UNAVAILABLE)


def _retry_delay(exc: api_exceptions.GoogleAPICallError) -> float | None:
    """The ``google.rpc.RetryInfo`` delay the service attached, if any."""
    for detail in getattr(exc, "details", None) or ():
        delay = getattr(detail, "retry_delay", None)
        if delay is not None and hasattr(delay, "seconds"):
            return float(delay.seconds) + float(delay.nanos) / 1e9
    return None


def _reason(exc: api_exceptions.GoogleAPICallError) -> str | None:
    """The ``google.rpc.ErrorInfo`` reason: a fixed identifier, safe to show."""
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, str) and reason.isidentifier() else None


def classify(exc: BaseException, endpoint: str = "") -> Classified | None:
    """Map a GCP SDK exception to a portable code, or ``None`` when it is not one.

    :param endpoint: the API's ``host:port``, named when it could not be reached.
    """
    verdict = _classify(exc)
    if verdict is not None and endpoint and verdict.code is ErrorCode.UNAVAILABLE:
        return Classified(verdict.code, f"{verdict.message} at {shown_address(endpoint)}",
                          transient=verdict.transient, retry_after=verdict.retry_after)
    return verdict


def _classify(exc: BaseException) -> Classified | None:
    if isinstance(exc, api_exceptions.RetryError):
        return Classified(ErrorCode.UNAVAILABLE, "GCP Secret Manager: retries exhausted")
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        status = exc.grpc_status_code
        if status is None:
            return _classify_http(exc)
        code, transient = _CODES.get(status, (ErrorCode.UNKNOWN, None))
        reason = _reason(exc)
        message = f"GCP Secret Manager: {status.name}" + (f" ({reason})" if reason else "")
        # RetryInfo rides on UNAVAILABLE too (AIP-194), as on the REST transport's 503.
        retry_after = _retry_delay(exc) if code in _HINTED else None
        return Classified(code, message, transient=transient, retry_after=retry_after)
    if isinstance(exc, grpc.RpcError) and callable(getattr(exc, "code", None)):
        status = exc.code()
        code, transient = _CODES.get(status, (ErrorCode.UNKNOWN, None))
        return Classified(code, f"GCP Secret Manager: {status.name}", transient=transient)
    if isinstance(exc, (auth_exceptions.RefreshError, auth_exceptions.DefaultCredentialsError)):
        return Classified(ErrorCode.UNAUTHENTICATED,
                          f"GCP credentials failed: {type(exc).__name__}")
    if isinstance(exc, auth_exceptions.TransportError):
        return Classified(ErrorCode.UNAVAILABLE, "GCP credentials could not be refreshed")
    if isinstance(exc, requests.exceptions.Timeout):  # the REST transport's own failures
        return Classified(ErrorCode.DEADLINE_EXCEEDED, "GCP Secret Manager did not answer in time")
    if isinstance(exc, requests.exceptions.RequestException):
        return Classified(ErrorCode.UNAVAILABLE,
                          f"cannot reach GCP Secret Manager ({type(exc).__name__})")
    return None


def _classify_http(exc: api_exceptions.GoogleAPICallError) -> Classified:
    """Errors of the REST transport, which carry an HTTP status instead of a gRPC one."""
    status = int(exc.code or 0)
    by_status = {
        400: ErrorCode.INVALID_ARGUMENT, 401: ErrorCode.UNAUTHENTICATED,
        403: ErrorCode.PERMISSION_DENIED, 404: ErrorCode.NOT_FOUND, 409: ErrorCode.CONFLICT,
        412: ErrorCode.CONFLICT, 429: ErrorCode.THROTTLED, 504: ErrorCode.DEADLINE_EXCEEDED,
    }
    code = by_status.get(status, ErrorCode.UNAVAILABLE if status >= 500 else ErrorCode.UNKNOWN)
    retry_after = None
    if code in _HINTED:
        retry_after = _retry_delay(exc)
        if retry_after is None:
            retry_after = retry_after_from_headers(getattr(exc.response, "headers", None))
    return Classified(code, f"GCP Secret Manager: HTTP {status}", retry_after=retry_after)
