"""The errors helium-secrets raises: one base class, a closed set of codes, one subclass per code.

Every error names the backend and the secret it concerns, says whether retrying may help
(:attr:`HeliumError.transient`), and keeps the backend SDK's own exception as ``__cause__``.
No error message ever contains a secret value.
"""

from __future__ import annotations

import enum

__all__ = [
    "ConflictError",
    "DeadlineExceededError",
    "ErrorCode",
    "HeliumError",
    "IntegrityError",
    "InvalidArgumentError",
    "InvalidNameError",
    "PermissionDeniedError",
    "ReadOnlyError",
    "RotationTestFailed",
    "SecretNotFoundError",
    "StoreClosedError",
    "ThrottledError",
    "TooLargeError",
    "UnauthenticatedError",
    "UnavailableError",
    "UnknownError",
    "UnsupportedError",
    "VersionNotFoundError",
    "error_for_code",
]


class ErrorCode(str, enum.Enum):
    """The closed set of portable error codes."""

    NOT_FOUND = "not_found"
    VERSION_NOT_FOUND = "version_not_found"
    PERMISSION_DENIED = "permission_denied"
    UNAUTHENTICATED = "unauthenticated"
    INVALID_ARGUMENT = "invalid_argument"
    TOO_LARGE = "too_large"
    CONFLICT = "conflict"
    THROTTLED = "throttled"
    UNAVAILABLE = "unavailable"
    DEADLINE_EXCEEDED = "deadline_exceeded"
    INTEGRITY = "integrity"
    UNSUPPORTED = "unsupported"
    CLOSED = "closed"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


class HeliumError(Exception):
    """Base class of every error helium-secrets raises."""

    code: ErrorCode = ErrorCode.UNKNOWN
    #: Whether the same call may succeed if retried later.
    default_transient: bool = False

    def __init__(
        self,
        message: str,
        *,
        backend: str | None = None,
        name: str | None = None,
        version: str | None = None,
        transient: bool | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.backend = backend
        self.name = name
        self.version = version
        self.transient = self.default_transient if transient is None else transient
        #: Seconds the service asked us to wait before retrying (Retry-After and the like).
        self.retry_after = retry_after

    def __str__(self) -> str:
        where = []
        if self.backend:
            where.append(f"backend={self.backend}")
        if self.name is not None:
            where.append(f"name={self.name!r}")
        if self.version is not None:
            where.append(f"version={self.version!r}")
        return f"{self.message} ({', '.join(where)})" if where else self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self) -> tuple[object, ...]:
        # Keep the keyword-only context when pickled across processes.
        return (
            _rebuild,
            (type(self), self.message, self.backend, self.name, self.version, self.transient,
             self.retry_after),
        )


def _rebuild(
    cls: type[HeliumError],
    message: str,
    backend: str | None,
    name: str | None,
    version: str | None,
    transient: bool,
    retry_after: float | None,
) -> HeliumError:
    return cls(message, backend=backend, name=name, version=version, transient=transient,
               retry_after=retry_after)


class SecretNotFoundError(HeliumError):
    """The secret does not exist."""

    code = ErrorCode.NOT_FOUND


class VersionNotFoundError(SecretNotFoundError):
    """The secret exists but the requested version or label does not."""

    code = ErrorCode.VERSION_NOT_FOUND


class PermissionDeniedError(HeliumError):
    """The credentials are valid but not allowed to do this."""

    code = ErrorCode.PERMISSION_DENIED


class UnauthenticatedError(HeliumError):
    """The credentials are missing, invalid or expired."""

    code = ErrorCode.UNAUTHENTICATED


class InvalidArgumentError(HeliumError, ValueError):
    """An argument is not acceptable (checked before any call where possible)."""

    code = ErrorCode.INVALID_ARGUMENT


class InvalidNameError(InvalidArgumentError):
    """The secret name breaks the portable rules or the backend's rules."""


class TooLargeError(InvalidArgumentError):
    """The value is larger than the backend accepts."""

    code = ErrorCode.TOO_LARGE


class ConflictError(HeliumError):
    """Check-and-set failed, the secret already exists, or it is deleted but recoverable."""

    code = ErrorCode.CONFLICT


class ThrottledError(HeliumError):
    """The service is rate-limiting us; see :attr:`HeliumError.retry_after`."""

    code = ErrorCode.THROTTLED
    default_transient = True


class UnavailableError(HeliumError):
    """The service could not be reached or answered with a server error."""

    code = ErrorCode.UNAVAILABLE
    default_transient = True


class DeadlineExceededError(UnavailableError):
    """The call did not finish within its deadline."""

    code = ErrorCode.DEADLINE_EXCEEDED


class IntegrityError(HeliumError):
    """Stored data failed an integrity check (bad checksum, wrong key, damaged file)."""

    code = ErrorCode.INTEGRITY


class UnsupportedError(HeliumError):
    """The backend does not support this operation or option."""

    code = ErrorCode.UNSUPPORTED


class ReadOnlyError(UnsupportedError):
    """The backend is read-only; writes are refused."""


class StoreClosedError(HeliumError):
    """The store was closed and refuses further calls."""

    code = ErrorCode.CLOSED


class UnknownError(HeliumError):
    """An error the backend could not classify."""

    code = ErrorCode.UNKNOWN


class RotationTestFailed(Exception):
    """A staged rotation's test rejected the pending value, which was discarded.

    Not a backend error: the secret is unchanged. The test's own exception, if it raised one,
    is the ``__cause__``.
    """

    def __init__(self, name: str, version: str) -> None:
        super().__init__(f"the pending version {version!r} of {name!r} failed its test and was "
                         "discarded; the current version is unchanged")
        self.name = name
        self.version = version

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.name, self.version))


_BY_CODE: dict[ErrorCode, type[HeliumError]] = {
    ErrorCode.NOT_FOUND: SecretNotFoundError,
    ErrorCode.VERSION_NOT_FOUND: VersionNotFoundError,
    ErrorCode.PERMISSION_DENIED: PermissionDeniedError,
    ErrorCode.UNAUTHENTICATED: UnauthenticatedError,
    ErrorCode.INVALID_ARGUMENT: InvalidArgumentError,
    ErrorCode.TOO_LARGE: TooLargeError,
    ErrorCode.CONFLICT: ConflictError,
    ErrorCode.THROTTLED: ThrottledError,
    ErrorCode.UNAVAILABLE: UnavailableError,
    ErrorCode.DEADLINE_EXCEEDED: DeadlineExceededError,
    ErrorCode.INTEGRITY: IntegrityError,
    ErrorCode.UNSUPPORTED: UnsupportedError,
    ErrorCode.CLOSED: StoreClosedError,
    ErrorCode.UNKNOWN: UnknownError,
}


def error_for_code(code: ErrorCode) -> type[HeliumError]:
    """Return the exception class users catch for ``code``."""
    return _BY_CODE[code]
