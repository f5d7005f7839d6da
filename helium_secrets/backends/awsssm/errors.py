"""SSM's errors: its own codes, on top of what every AWS service shares
(:func:`~helium_secrets.backends.awssecretsmanager.errors.classify_aws`)."""

from __future__ import annotations

import botocore.exceptions

from helium_secrets.backends._base import Classified
from helium_secrets.backends.awssecretsmanager.errors import classify_aws
from helium_secrets.errors import ErrorCode

__all__ = ["classify"]

_CODES = {
    "ParameterNotFound": ErrorCode.NOT_FOUND,
    "ParameterVersionNotFound": ErrorCode.VERSION_NOT_FOUND,
    "ParameterVersionLabelNotFound": ErrorCode.VERSION_NOT_FOUND,
    "ParameterAlreadyExists": ErrorCode.CONFLICT,
    "ParameterVersionLabelLimitExceeded": ErrorCode.INVALID_ARGUMENT,
    "HierarchyLevelLimitExceededException": ErrorCode.INVALID_ARGUMENT,
    "HierarchyTypeMismatchException": ErrorCode.INVALID_ARGUMENT,
    "ParameterPatternMismatchException": ErrorCode.INVALID_ARGUMENT,
    "UnsupportedParameterType": ErrorCode.INVALID_ARGUMENT,
    "InvalidAllowedPatternException": ErrorCode.INVALID_ARGUMENT,
    "InvalidResourceId": ErrorCode.INVALID_ARGUMENT,
    "InvalidKeyId": ErrorCode.INVALID_ARGUMENT,
    "IncompatiblePolicyException": ErrorCode.INVALID_ARGUMENT,
}
_HINTS = {
    "ParameterMaxVersionLimitExceeded": (
        "the parameter has 100 versions and the oldest carries a label, so SSM cannot drop "
        "it: move or remove that label"
    ),
    "InvalidKeyId": "check the kms_key_id option",
}
#: Quotas, not rates: retrying won't help.
_QUOTAS = frozenset({"ParameterLimitExceeded", "TooManyTagsError", "ParameterMaxVersionLimitExceeded"})


def _ssm_codes(
    exc: botocore.exceptions.ClientError, code: str, message: str
) -> Classified | None:
    hint = _HINTS.get(code)
    if hint is not None:
        message = f"{message}: {hint}"
    if code == "ParameterMaxVersionLimitExceeded":
        return Classified(ErrorCode.CONFLICT, message)
    if code in _QUOTAS:
        return Classified(ErrorCode.THROTTLED, message, transient=False)
    if code == "TooManyUpdates":  # concurrent writes to one parameter: a rate
        return Classified(ErrorCode.THROTTLED, message, transient=True)
    verdict = _CODES.get(code)
    return Classified(verdict, message) if verdict is not None else None


def classify(exc: BaseException, endpoint: str = "") -> Classified | None:
    """Map a boto3 / botocore exception from SSM to a portable code, or ``None``.

    :param endpoint: the endpoint the client calls, named in connection errors.
    """
    return classify_aws(exc, "AWS SSM Parameter Store", _ssm_codes, endpoint)
