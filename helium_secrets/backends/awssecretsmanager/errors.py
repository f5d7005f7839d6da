"""AWS's errors: botocore exceptions mapped to portable codes, and what the service says of a
secret scheduled for deletion (not found to a read, a conflict to a write).

:func:`classify_aws` is what every AWS service shares (credentials, throttling, transport); each
backend passes its own service name and the error codes only it has (:func:`classify` here,
the SSM Parameter Store backend's in :mod:`~helium_secrets.backends.awsssm`).
"""

from __future__ import annotations

from collections.abc import Callable

import botocore.exceptions

from helium_secrets.backends._base import Classified
from helium_secrets.backends._display import shown_address
from helium_secrets.backends._hints import retry_after_from_headers
from helium_secrets.errors import ErrorCode

__all__ = [
    "CONFLICT",
    "DELETED_READ",
    "DELETED_WRITE",
    "INVALID",
    "NOT_FOUND",
    "NO_CREDENTIALS",
    "classify",
    "classify_aws",
    "error_code",
    "is_deleted_error",
]

NOT_FOUND = frozenset({"ResourceNotFoundException"})
_DENIED = frozenset({"AccessDeniedException", "AccessDenied", "DecryptionFailure",
                     "EncryptionFailure"})
_UNAUTHENTICATED = frozenset({
    "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException",
    "ExpiredToken", "MissingAuthenticationToken", "IncompleteSignature",
    "InvalidClientTokenId", "SignatureDoesNotMatch", "NotAuthorized",
})
_THROTTLED = frozenset({"ThrottlingException", "Throttling", "TooManyRequestsException",
                        "RequestLimitExceeded", "ProvisionedThroughputExceededException"})
_UNAVAILABLE = frozenset({"InternalServiceError", "InternalFailure", "InternalServerError",
                          "ServiceUnavailable", "ServiceUnavailableException"})
INVALID = frozenset({"InvalidParameterException", "InvalidParameterValue",
                      "ValidationException", "InvalidNextTokenException",
                      "MalformedPolicyDocumentException", "PreconditionNotMetException"})
CONFLICT = frozenset({"ResourceExistsException"})


#: How the service words "this secret is scheduled for deletion" (matched, never shown).
_DELETED_PHRASES = ("marked for deletion", "marked deleted", "scheduled for deletion")
#: The operations that only read a secret (a delete too: it needs the secret to be there).
#: On a secret scheduled for deletion they find nothing, as on every backend; the others are
#: writes, which the name's recoverable deletion blocks (a conflict).
_READS = frozenset({"GetSecretValue", "BatchGetSecretValue", "DescribeSecret",
                    "ListSecretVersionIds", "DeleteSecret"})
DELETED_READ = (
    "the secret is scheduled for deletion: restore it with store.extras.restore(name) within "
    "the recovery window"
)
DELETED_WRITE = (
    "the secret is scheduled for deletion (deleted but recoverable), so its name can't be "
    "written: restore it with store.extras.restore(name) within the recovery window, or purge "
    "it with store.delete(name, purge=True)"
)


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def is_deleted_error(exc: BaseException) -> bool:
    """An InvalidRequestException about a secret scheduled for deletion."""
    if not isinstance(exc, botocore.exceptions.ClientError):
        return False
    if error_code(exc) != "InvalidRequestException":
        return False
    # The only way to tell this case from other invalid requests is the service's wording
    # ("marked for deletion", "marked deleted", "scheduled for deletion"); it is only matched,
    # never shown.
    message = str(exc.response.get("Error", {}).get("Message", "")).lower()
    # Not just "delet": "can't delete secret X that still has replica regions" is another case.
    return any(phrase in message for phrase in _DELETED_PHRASES)


def _retry_after(exc: botocore.exceptions.ClientError) -> float | None:
    return retry_after_from_headers(exc.response.get("ResponseMetadata", {}).get("HTTPHeaders"))


#: What to do when boto3 finds no credentials (its own message says only that).
NO_CREDENTIALS = (
    "set AWS_PROFILE to a configured profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
    "or run `aws configure` (or `aws sso login`); on AWS, give the instance, task or function "
    "a role"
)


def classify(exc: BaseException, endpoint: str = "") -> Classified | None:
    """Map a boto3 / botocore exception to a portable code, or ``None`` when it is not one.

    :param endpoint: the endpoint the client calls, named in connection errors.
    """
    return classify_aws(exc, "AWS Secrets Manager", _secrets_manager_codes, endpoint)


#: A service's own error codes: (the error, its code, the message to build on) -> a verdict,
#: or ``None`` for the codes every AWS service shares.
ServiceCodes = Callable[[botocore.exceptions.ClientError, str, str], Classified | None]


def classify_aws(exc: BaseException, service: str, codes: ServiceCodes,
                 endpoint: str = "") -> Classified | None:
    """Map a boto3 / botocore exception from ``service`` to a portable code (``None`` when it is
    not one): the service's own ``codes`` first, then what every AWS service shares.

    :param endpoint: the endpoint the client calls, named in connection errors.
    """
    if isinstance(exc, botocore.exceptions.ClientError):
        return _classify_client_error(exc, service, codes)
    at = f" at {shown_address(endpoint)}" if endpoint else ""
    if isinstance(exc, (botocore.exceptions.ReadTimeoutError,
                        botocore.exceptions.ConnectTimeoutError)):
        return Classified(ErrorCode.DEADLINE_EXCEEDED,
                          f"{service}{at} timed out ({type(exc).__name__})",
                          transient=True)
    if isinstance(exc, (botocore.exceptions.EndpointConnectionError,
                        botocore.exceptions.ConnectionClosedError,
                        botocore.exceptions.ConnectionError,
                        botocore.exceptions.HTTPClientError)):
        return Classified(ErrorCode.UNAVAILABLE,
                          f"{service}{at} unreachable ({type(exc).__name__}): check "
                          "the region and endpoint_url=, and the network")
    if isinstance(exc, botocore.exceptions.NoCredentialsError):
        return Classified(ErrorCode.UNAUTHENTICATED, f"no AWS credentials found: {NO_CREDENTIALS}")
    if isinstance(exc, botocore.exceptions.ProfileNotFound):
        return Classified(ErrorCode.UNAUTHENTICATED,
                          "the AWS profile named by AWS_PROFILE or profile= is not in the AWS "
                          "config files: create it with `aws configure --profile NAME`")
    if isinstance(exc, (botocore.exceptions.PartialCredentialsError,
                        botocore.exceptions.CredentialRetrievalError,
                        botocore.exceptions.TokenRetrievalError)):
        return Classified(ErrorCode.UNAUTHENTICATED,
                          f"no usable AWS credentials ({type(exc).__name__}): "
                          f"{NO_CREDENTIALS}")
    if isinstance(exc, (botocore.exceptions.ParamValidationError,
                        botocore.exceptions.NoRegionError)):
        # The validation message can quote parameter values: never reuse it.
        return Classified(ErrorCode.INVALID_ARGUMENT,
                          f"AWS request rejected by the SDK ({type(exc).__name__})")
    if isinstance(exc, botocore.exceptions.BotoCoreError):
        return Classified(ErrorCode.UNKNOWN, f"AWS SDK error ({type(exc).__name__})")
    return None


def _secrets_manager_codes(
    exc: botocore.exceptions.ClientError, code: str, message: str
) -> Classified | None:
    if code in NOT_FOUND:
        return Classified(ErrorCode.NOT_FOUND, message)
    if code == "InvalidRequestException":
        if is_deleted_error(exc):
            if (exc.operation_name or "call") in _READS:
                return Classified(ErrorCode.NOT_FOUND, f"{message}: {DELETED_READ}")
            return Classified(ErrorCode.CONFLICT, f"{message}: {DELETED_WRITE}")
        return Classified(ErrorCode.INVALID_ARGUMENT, message)
    if code in ("DecryptionFailure", "EncryptionFailure"):
        return Classified(ErrorCode.PERMISSION_DENIED,
                          f"{message}: check kms:Decrypt/kms:GenerateDataKey on the secret's key")
    if code in CONFLICT:
        return Classified(ErrorCode.CONFLICT, message)
    return None


def _classify_client_error(
    exc: botocore.exceptions.ClientError, service: str, codes: ServiceCodes
) -> Classified:
    code = error_code(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    operation = exc.operation_name or "call"
    # Built from the operation, error code and status only: service text can echo requests.
    message = f"{service} {operation}: {code or 'error'}" + (
        f" (HTTP {status})" if status else ""
    )
    verdict = codes(exc, code, message)
    if verdict is not None:
        return verdict
    if code in _DENIED:
        return Classified(ErrorCode.PERMISSION_DENIED, message)
    if code in _UNAUTHENTICATED:
        return Classified(ErrorCode.UNAUTHENTICATED, message)
    if code in _THROTTLED or status == 429:
        return Classified(ErrorCode.THROTTLED, message, retry_after=_retry_after(exc))
    if code == "LimitExceededException":
        # A quota (secrets per account, versions per secret), not a rate: retrying won't help.
        return Classified(ErrorCode.THROTTLED, message, transient=False)
    if code in INVALID:
        return Classified(ErrorCode.INVALID_ARGUMENT, message)
    if code in _UNAVAILABLE or (isinstance(status, int) and status >= 500):
        return Classified(ErrorCode.UNAVAILABLE, message, retry_after=_retry_after(exc))
    return Classified(ErrorCode.UNKNOWN, message)
