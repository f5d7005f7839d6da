"""``awssecretsmanager://``: AWS Secrets Manager, through boto3.

Names map to AWS secret names unchanged: portable names are ``/``-separated segments of letters,
digits and ``_ + = . @ -``, which is exactly the AWS alphabet (``/`` included), up to 512
characters. A name never contains ``:``, so it is never taken for an ARN.

Versions are AWS version ids (UUIDs); labels are AWS staging labels (``AWSCURRENT``,
``AWSPREVIOUS`` and custom ones). botocore's own retries are switched off on the clients this
module builds: the store's retry layer is the only one.

Secrets Manager specifics on top of the protocol:

* :meth:`AWSSecretsManagerBackend.delete` schedules the deletion with a recovery window (30 days
  unless ``recovery_window_days`` says otherwise); ``purge=True`` deletes at once. Reading a
  secret scheduled for deletion is a :class:`~helium_secrets.errors.SecretNotFoundError`, as on
  every backend, and writing it a :class:`~helium_secrets.errors.ConflictError`; both say so.
  :meth:`AWSSecretsManagerBackend.restore` (``store.extras.restore(name)``) cancels the deletion.
* ``get_many`` uses BatchGetSecretValue, 20 ids a call (the service's limit), and falls back to
  single reads when a policy denies the batch call.
* ``current_version`` is DescribeSecret, the cheap probe (40,000/s against GetSecretValue's
  10,000/s).
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import SplitResult

import boto3
import botocore.exceptions
from botocore.config import Config

from helium_secrets._options import Options, build, option, parse, query_of
from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import (
    BackendBase,
    Capabilities,
    Classified,
    NameRules,
    RawSecret,
    extra_operation,
)
from helium_secrets.backends._hints import retry_after_from_headers
from helium_secrets.errors import (
    ConflictError,
    ErrorCode,
    InvalidArgumentError,
    SecretNotFoundError,
    VersionNotFoundError,
)

__all__ = ["AWSSecretsManagerBackend", "AWSSecretsManagerOptions"]

#: SecretString / SecretBinary limit of the service.
MAX_VALUE_BYTES = 64 * 1024
#: BatchGetSecretValue takes at most 20 secret ids (moto takes more; AWS does not).
BATCH_SIZE = 20
CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
PENDING = "AWSPENDING"

NAME_RULES = NameRules(
    max_length=512,
    segment_pattern=r"[A-Za-z0-9_+=.@-]+",
    description="segments of letters, digits and _ + = . @ - (AWS secret names)",
)

_PREFIX_RE = re.compile(r"[A-Za-z0-9_+=.@/-]*")
_TOKEN_RE = re.compile(r"[A-Za-z0-9-]{32,64}")
_NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})
# botocore waits 60 s by default; a hung call should fail well within the store's deadline.
_DEFAULTS = Config(connect_timeout=10, read_timeout=30)

_NOT_FOUND = frozenset({"ResourceNotFoundException"})
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
_INVALID = frozenset({"InvalidParameterException", "InvalidParameterValue",
                      "ValidationException", "InvalidNextTokenException",
                      "MalformedPolicyDocumentException", "PreconditionNotMetException"})
_CONFLICT = frozenset({"ResourceExistsException"})


#: How the service words "this secret is scheduled for deletion" (matched, never shown).
_DELETED_PHRASES = ("marked for deletion", "marked deleted", "scheduled for deletion")
#: The operations that only read a secret (a delete too: it needs the secret to be there).
#: On a secret scheduled for deletion they find nothing, as on every backend; the others are
#: writes, which the name's recoverable deletion blocks (a conflict).
_READS = frozenset({"GetSecretValue", "BatchGetSecretValue", "DescribeSecret",
                    "ListSecretVersionIds", "DeleteSecret"})
_DELETED_READ = (
    "the secret is scheduled for deletion: restore it with store.extras.restore(name) within "
    "the recovery window"
)
_DELETED_WRITE = (
    "the secret is scheduled for deletion (deleted but recoverable), so its name can't be "
    "written: restore it with store.extras.restore(name) within the recovery window, or purge "
    "it with store.delete(name, purge=True)"
)


def _error_code(exc: botocore.exceptions.ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _is_deleted_error(exc: BaseException) -> bool:
    """An InvalidRequestException about a secret scheduled for deletion."""
    if not isinstance(exc, botocore.exceptions.ClientError):
        return False
    if _error_code(exc) != "InvalidRequestException":
        return False
    # The only way to tell this case from other invalid requests is the service's wording
    # ("marked for deletion", "marked deleted", "scheduled for deletion"); it is only matched,
    # never shown.
    message = str(exc.response.get("Error", {}).get("Message", "")).lower()
    # Not just "delet": "can't delete secret X that still has replica regions" is another case.
    return any(phrase in message for phrase in _DELETED_PHRASES)


def _retry_after(exc: botocore.exceptions.ClientError) -> float | None:
    return retry_after_from_headers(exc.response.get("ResponseMetadata", {}).get("HTTPHeaders"))


def _request_token(token: str | None) -> str:
    """A ClientRequestToken (32-64 characters) for ``token``, the same on every retry."""
    if token is None:
        return str(uuid.uuid4())
    if _TOKEN_RE.fullmatch(token):
        return token
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _is_version_id(version: str) -> bool:
    # AWS version ids are 32-64 characters; anything else cannot exist.
    return 32 <= len(version) <= 64


@dataclass(frozen=True, kw_only=True)
class AWSSecretsManagerOptions(Options):
    """The options of :class:`AWSSecretsManagerBackend` (the table in docs/backends/aws.md).

    Pass an existing ``client``, or a boto3 ``session``, or let the backend build one from
    ``region`` / ``profile`` (and the usual AWS environment variables and config files, which
    boto3 reads itself).

    :param region: the AWS region (default: the session's / environment's region).
    :param profile: a named profile from the AWS config files.
    :param endpoint_url: another endpoint (a VPC endpoint, FIPS, or a test server).
    :param session: a ``boto3.Session`` to build the client from.
    :param client: a ready ``secretsmanager`` client. Switch its retries off
        (``Config(retries={"total_max_attempts": 1})``): the store retries, and a client that
        retries too multiplies the attempts (a warning says so).
    :param config: a ``botocore.config.Config`` merged into the client's (timeouts, proxies,
        pool size); its retry settings are overridden. Defaults: 10 s to connect, 30 s to read.
    :param recovery_window_days: days a deleted secret can be restored (7-30, default 30).
    :param kms_key_id: the KMS key for secrets this backend creates.
    :param description: the description of secrets this backend creates.
    :param tags: tags for secrets this backend creates (merged with ``metadata`` of a put).
    :param atomic_check_and_set: ``put(expected_version=...)`` is a staging-label
        compare-and-swap (3 calls, atomic; the default); ``False`` checks DescribeSecret and then
        writes (2 calls, with a race window); see the documentation page.
    """

    scheme: ClassVar[str] = "awssecretsmanager"

    region: str | None = option(None, query=True, url="host")
    profile: str | None = option(None, query=True)
    endpoint_url: str | None = option(None, query=True)
    session: boto3.Session | None = None
    client: Any = None
    config: Config | None = None
    recovery_window_days: int = option(30, query=True, ge=7, le=30)
    kms_key_id: str | None = option(None, query=True)
    description: str | None = None
    tags: Mapping[str, str] | None = None
    atomic_check_and_set: bool = option(True, query=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tags is not None:  # a copy: the options stay as they were made
            object.__setattr__(self, "tags", MappingProxyType(dict(self.tags)))


class AWSSecretsManagerBackend(BackendBase):
    """AWS Secrets Manager through boto3.

    :param options: a ready :class:`AWSSecretsManagerOptions`, or pass its fields as keywords.
    :raises ValueError: conflicting options, a recovery window outside 7-30 days, or no
        region anywhere.
    """

    name: ClassVar[str] = "aws"

    def __init__(
        self, *, options: AWSSecretsManagerOptions | None = None, **keywords: Any
    ) -> None:
        self._options = opts = build(AWSSecretsManagerOptions, options, keywords)
        region, profile, session, client = opts.region, opts.profile, opts.session, opts.client
        endpoint_url, config, tags = opts.endpoint_url, opts.config, opts.tags
        self.capabilities = Capabilities(
            binary=True,
            versions=True,
            labels=True,
            max_value_bytes=MAX_VALUE_BYTES,
            name_rules=NAME_RULES,
            version_probe=True,
            batch_get=BATCH_SIZE,
            idempotent_put=True,
            check_and_set=opts.atomic_check_and_set,
            staging=True,
        )
        self.recovery_window_days = opts.recovery_window_days
        self.kms_key_id = opts.kms_key_id
        self.description = opts.description
        problem = _tags_problem(tags or {})
        if problem is not None:
            raise ValueError(f"tags=: {problem}")
        self.tags = dict(tags or {})
        self.atomic_check_and_set = opts.atomic_check_and_set
        self._batch_denied = False
        self._owns_client = client is None
        if client is not None:
            if any(x is not None for x in (session, profile, region, endpoint_url, config)):
                raise ValueError(
                    "pass either client= or session/profile/region/endpoint_url/config, not both"
                )
            self._warn_if_client_retries(client)
            self.client = client
        else:
            if session is None:
                session = boto3.Session(profile_name=profile, region_name=region)
            elif profile is not None:
                raise ValueError("pass either session= or profile=, not both")
            merged = (_DEFAULTS.merge(config) if config is not None else _DEFAULTS).merge(
                _NO_RETRIES
            )
            try:
                self.client = session.client(
                    "secretsmanager", region_name=region, endpoint_url=endpoint_url,
                    config=merged,
                )
            except botocore.exceptions.NoRegionError as exc:
                raise ValueError(
                    "no AWS region: name it in the URL (awssecretsmanager://eu-west-1), with "
                    "region=, AWS_DEFAULT_REGION or the profile's region"
                ) from exc

    @property
    def options(self) -> AWSSecretsManagerOptions:
        """The resolved options (read-only)."""
        return self._options

    @classmethod
    def from_url(cls, url: SplitResult, **keywords: Any) -> AWSSecretsManagerBackend:
        """Build from ``awssecretsmanager://[REGION][?profile=...&endpoint_url=...]``.

        Query options: ``region``, ``profile``, ``endpoint_url``, ``recovery_window_days``,
        ``kms_key_id``, ``atomic_check_and_set`` (``true``/``false``). Keyword options win over
        the URL's.
        """
        if url.path not in ("", "/"):
            raise ValueError("awssecretsmanager:// URLs take no path: the host is the region")
        query = query_of(url)
        derived = {}
        if url.hostname:
            if "region" in query:
                raise ValueError("give the region as the URL's host or ?region=, not both")
            derived["region"] = url.hostname
        return cls(options=parse(AWSSecretsManagerOptions, keywords=keywords, query=query,
                                 url=derived))

    @staticmethod
    def _warn_if_client_retries(client: Any) -> None:
        retries = getattr(getattr(client, "meta", None), "config", None)
        settings = getattr(retries, "retries", None) or {}
        attempts = settings.get("total_max_attempts")
        if attempts is None and "max_attempts" in settings:
            attempts = settings["max_attempts"] + 1
        if attempts != 1:
            warnings.warn(
                "the injected secretsmanager client retries on its own; the store retries too, "
                "so attempts multiply. Build it with "
                "Config(retries={'total_max_attempts': 1}).",
                RuntimeWarning,
                stacklevel=4,
            )

    # -- reading ---------------------------------------------------------------------------

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        if version is not None and not _is_version_id(version):
            raise VersionNotFoundError("no such version (AWS version ids are 32-64 characters)")
        if label is not None and not 1 <= len(label) <= 256:
            # No stage has such a name; and an empty one must not fall back to AWSCURRENT.
            raise VersionNotFoundError("no such stage (AWS staging labels are 1-256 characters)")
        # Always name a stage when no version is given: AWSCURRENT is what AWS reads by
        # default, and moto resolves the explicit stage correctly after stage moves.
        params: dict[str, Any] = {"SecretId": name}
        if version is not None:
            params["VersionId"] = version
        if label is not None:
            params["VersionStage"] = label
        elif version is None:
            params["VersionStage"] = CURRENT
        try:
            response = self.client.get_secret_value(**params)
        except botocore.exceptions.ClientError as exc:
            if version is not None or label is not None:
                self._raise_version_not_found(name, exc)
            raise
        return self._raw(name, response)

    def _raise_version_not_found(self, name: str, exc: botocore.exceptions.ClientError) -> None:
        """Tell "no such version/label" from "no such secret"; return if it is the latter."""
        code = _error_code(exc)
        if code == "InvalidRequestException" and not _is_deleted_error(exc):
            # The version exists but does not carry the label.
            raise VersionNotFoundError("the version does not carry that label") from exc
        if code not in _NOT_FOUND:
            return
        try:
            self.client.describe_secret(SecretId=name)
        except botocore.exceptions.ClientError:
            return  # the secret itself is missing: the original error says so
        raise VersionNotFoundError("no such version or label") from exc

    @staticmethod
    def _raw(name: str, response: Mapping[str, Any]) -> RawSecret:
        value: str | bytes
        if "SecretBinary" in response and response["SecretBinary"] is not None:
            value = bytes(response["SecretBinary"])
        else:
            value = response.get("SecretString", "")
        return RawSecret(
            name=name,
            value=value,
            version=response["VersionId"],
            labels=frozenset(response.get("VersionStages") or ()),
            created_at=response.get("CreatedDate"),
        )

    def get_many(self, names: Sequence[str]) -> dict[str, RawSecret | BaseException]:
        out: dict[str, RawSecret | BaseException] = {}
        wanted = list(dict.fromkeys(names))
        for start in range(0, len(wanted), BATCH_SIZE):
            chunk = wanted[start:start + BATCH_SIZE]
            if not self._batch_denied:
                try:
                    out.update(self._batch(chunk))
                    continue
                except botocore.exceptions.ClientError as exc:
                    if _error_code(exc) not in ("AccessDeniedException", "AccessDenied"):
                        raise
                    # A policy allows GetSecretValue but not the batch call: read one by
                    # one, now and from now on.
                    self._batch_denied = True
            out.update(super().get_many(chunk))
        return out

    def _batch(self, chunk: Sequence[str]) -> dict[str, RawSecret | BaseException]:
        out: dict[str, RawSecret | BaseException] = {}
        params: dict[str, Any] = {"SecretIdList": list(chunk)}
        while True:
            response = self.client.batch_get_secret_value(**params)
            for item in response.get("SecretValues", ()):
                if item.get("Name") in chunk:
                    out[item["Name"]] = self._raw(item["Name"], item)
            for error in response.get("Errors", ()):
                secret_id = error.get("SecretId")
                if secret_id in chunk:
                    # A per-item error: the same SDK exception a single read would raise.
                    out[secret_id] = botocore.exceptions.ClientError(
                        {"Error": {"Code": error.get("ErrorCode", ""),
                                   "Message": error.get("Message", "")}},
                        "BatchGetSecretValue",
                    )
            token = response.get("NextToken")
            if not token:
                break
            params["NextToken"] = token
        for name in chunk:
            out.setdefault(name, SecretNotFoundError("secret not found"))
        return out

    def current_version(self, name: str) -> str:
        return self._current(name, writing=False)

    def _current(self, name: str, *, writing: bool) -> str:
        description = self._describe(name, writing=writing)
        for version, stages in (description.get("VersionIdsToStages") or {}).items():
            if CURRENT in stages:
                return str(version)
        raise SecretNotFoundError("the secret has no current version")

    def _describe(self, name: str, *, writing: bool) -> dict[str, Any]:
        """DescribeSecret, which answers for a secret scheduled for deletion too: then, like
        the service's own refusals, "not found" to a read and a conflict to a write."""
        description: dict[str, Any] = self.client.describe_secret(SecretId=name)
        if description.get("DeletedDate"):
            if writing:
                raise ConflictError(_DELETED_WRITE)
            raise SecretNotFoundError(_DELETED_READ)
        return description

    def list_names(self, prefix: str = "") -> Iterator[str]:
        if len(prefix) > NAME_RULES.max_length or not _PREFIX_RE.fullmatch(prefix):
            return  # no AWS name can start with it (and AWS's filter would refuse it)
        params: dict[str, Any] = {"MaxResults": 100}
        if prefix:
            # AWS matches the name filter as a case-insensitive prefix: filter again exactly.
            params["Filters"] = [{"Key": "name", "Values": [prefix]}]
        paginator = self.client.get_paginator("list_secrets")
        for page in paginator.paginate(**params):
            for entry in page.get("SecretList", ()):
                name = entry.get("Name", "")
                if name.startswith(prefix):
                    yield name

    def list_versions(self, name: str) -> list[VersionInfo]:
        # ListSecretVersionIds answers for a secret scheduled for deletion: ask first.
        self._describe(name, writing=False)
        versions: list[dict[str, Any]] = []
        params: dict[str, Any] = {"SecretId": name, "IncludeDeprecated": True}
        while True:  # botocore has no paginator for this operation
            page = self.client.list_secret_version_ids(**params)
            versions.extend(page.get("Versions", ()))
            if not page.get("NextToken"):
                break
            params["NextToken"] = page["NextToken"]
        # Oldest first; a stable sort keeps the service's order among equal dates.
        versions.sort(key=lambda v: _timestamp(v.get("CreatedDate")))
        return [
            VersionInfo(
                version=v["VersionId"],
                labels=frozenset(v.get("VersionStages") or ()),
                created_at=v.get("CreatedDate"),
                # A version without stages is what AWS calls deprecated: out of the lifecycle,
                # readable by id until AWS removes it.
                state="enabled" if v.get("VersionStages") else "disabled",
            )
            for v in versions
        ]

    # -- writing ---------------------------------------------------------------------------

    def put(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_version: str | None = None,
        create_only: bool = False,
        request_token: str | None = None,
        metadata: Mapping[str, str] | None = None,
        labels: Sequence[str] = (),
    ) -> VersionInfo:
        if not value:
            raise InvalidArgumentError("AWS Secrets Manager does not store empty values")
        # Checked first: a tag AWS refuses after PutSecretValue would leave the version written.
        problem = _tags_problem({**self.tags, **(metadata or {})})
        if problem is not None:
            raise InvalidArgumentError(f"metadata becomes AWS tags: {problem}")
        token = _request_token(request_token)
        labels = [label for label in dict.fromkeys(labels) if label != CURRENT]
        if create_only:
            return self._create(name, value, token, metadata, labels, create_only=True)
        if expected_version is not None and not _is_version_id(expected_version):
            # No AWS version has such an id, so it is not the current one; and sending it
            # would fail the SDK's validation after the new version was written.
            raise ConflictError("check-and-set failed: the current version changed")
        if expected_version is not None:
            # Only with atomic_check_and_set; otherwise the store compares first and passes none.
            return self._put_atomic(name, value, token, expected_version, labels, metadata)
        try:
            info = self._put_value(name, value, token, [CURRENT, *labels] if labels else None)
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) not in _NOT_FOUND or expected_version is not None:
                raise
            # Missing: create it. A concurrent creator may win; then add a version.
            return self._create(name, value, token, metadata, labels, create_only=False)
        if metadata:
            self.client.tag_resource(SecretId=name, Tags=_tags(metadata))
        return self._ensure_labels(name, info, labels)

    def _ensure_labels(self, name: str, info: VersionInfo, labels: Sequence[str]) -> VersionInfo:
        """Add the labels a first attempt did not get to (a create that failed after
        CreateSecret): AWS ignores a repeated PutSecretValue, stages included."""
        missing = [label for label in labels if label not in info.labels]
        for label in missing:
            self.set_label(name, label, info.version)
        return VersionInfo(version=info.version, labels=info.labels | frozenset(missing))

    def _put_value(
        self, name: str, value: str | bytes, token: str, stages: list[str] | None
    ) -> VersionInfo:
        params: dict[str, Any] = {"SecretId": name, "ClientRequestToken": token,
                                  **_value_param(value)}
        if stages is not None:
            params["VersionStages"] = stages
        response = self.client.put_secret_value(**params)
        return VersionInfo(
            version=response["VersionId"],
            labels=frozenset(response.get("VersionStages") or stages or (CURRENT,)),
        )

    def _create(
        self,
        name: str,
        value: str | bytes,
        token: str,
        metadata: Mapping[str, str] | None,
        labels: Sequence[str],
        *,
        create_only: bool,
    ) -> VersionInfo:
        params: dict[str, Any] = {"Name": name, "ClientRequestToken": token,
                                  **_value_param(value)}
        tags = {**self.tags, **(metadata or {})}
        if tags:
            params["Tags"] = _tags(tags)
        if self.kms_key_id is not None:
            params["KmsKeyId"] = self.kms_key_id
        if self.description is not None:
            params["Description"] = self.description
        try:
            response = self.client.create_secret(**params)
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) not in _CONFLICT:
                raise
            # Exists: ours already if a retried create lost its answer; else someone else's.
            stages = self._stages_of(name).get(token)
            if stages is not None:
                return self._ensure_labels(
                    name, VersionInfo(version=token, labels=frozenset(stages)), labels
                )
            if create_only:
                raise ConflictError("the secret already exists") from exc
            # Someone else created it meanwhile: add our version to it.
            info = self._put_value(name, value, token, [CURRENT, *labels] if labels else None)
            if metadata:
                self.client.tag_resource(SecretId=name, Tags=_tags(metadata))
            return self._ensure_labels(name, info, labels)
        version = str(response["VersionId"])
        for label in labels:
            self.client.update_secret_version_stage(
                SecretId=name, VersionStage=label, MoveToVersionId=version
            )
        return VersionInfo(version=version, labels=frozenset([CURRENT, *labels]))

    def _put_atomic(
        self,
        name: str,
        value: str | bytes,
        token: str,
        expected_version: str,
        labels: Sequence[str],
        metadata: Mapping[str, str] | None,
    ) -> VersionInfo:
        """Check-and-set without a race: write the version under a private staging label,
        then move AWSCURRENT to it *from* ``expected_version``, which AWS refuses when
        ``expected_version`` no longer holds AWSCURRENT."""
        pending = f"helium-pending-{token[:32]}"
        try:
            version = self._put_value(name, value, token, [pending]).version
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) in _NOT_FOUND:
                raise ConflictError("check-and-set failed: the secret does not exist") from exc
            raise
        try:
            self.client.update_secret_version_stage(
                SecretId=name, VersionStage=CURRENT, MoveToVersionId=version,
                RemoveFromVersionId=expected_version,
            )
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) not in _INVALID:
                raise
            if CURRENT not in self._stages_of(name).get(version, ()):  # not a retry of ours
                self._drop_stage(name, pending, version)
                raise ConflictError(
                    "check-and-set failed: the current version changed"
                ) from exc
        self._drop_stage(name, pending, version)
        for label in labels:
            self.set_label(name, label, version)
        if metadata:
            self.client.tag_resource(SecretId=name, Tags=_tags(metadata))
        return VersionInfo(version=version, labels=frozenset([CURRENT, *labels]))

    def _drop_stage(self, name: str, stage: str, version: str) -> None:
        # Already gone after a retry, or failing: a leftover private label is harmless.
        with contextlib.suppress(botocore.exceptions.ClientError):
            self.client.update_secret_version_stage(
                SecretId=name, VersionStage=stage, RemoveFromVersionId=version
            )

    def _stages_of(self, name: str) -> dict[str, list[str]]:
        # Only writes ask for the stages: a secret scheduled for deletion is a conflict here.
        description = self._describe(name, writing=True)
        stages: dict[str, list[str]] = description.get("VersionIdsToStages") or {}
        return stages

    def set_label(self, name: str, label: str, version: str | None) -> None:
        if version is not None and not _is_version_id(version):
            raise VersionNotFoundError("no such version")
        holder = next(
            (v for v, stages in self._stages_of(name).items() if label in stages), None
        )
        if holder == version:
            return
        if version is None and holder is None:
            return
        if label == CURRENT and version is None:
            raise InvalidArgumentError("AWSCURRENT cannot be removed, only moved")
        params: dict[str, Any] = {"SecretId": name, "VersionStage": label}
        if version is not None:
            params["MoveToVersionId"] = version
        if holder is not None:
            params["RemoveFromVersionId"] = holder
        try:
            self.client.update_secret_version_stage(**params)
        except botocore.exceptions.ClientError as exc:
            if version is not None and _error_code(exc) in _INVALID | _NOT_FOUND:
                self._stages_of(name)  # the secret exists: the version does not
                raise VersionNotFoundError("no such version") from exc
            raise

    # -- staged rotation (AWS's own AWSPENDING protocol) -------------------------------------

    def stage(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_current: str | None,
        request_token: str | None = None,
    ) -> VersionInfo:
        if not value:
            raise InvalidArgumentError("AWS Secrets Manager does not store empty values")
        token = _request_token(request_token)
        if expected_current is not None:
            current = self._current(name, writing=True)
            if current != expected_current:
                raise ConflictError("staging failed: the current version changed")
        # AWSPENDING moves to the new version; a reader of AWSCURRENT does not see it.
        return self._put_value(name, value, token, [PENDING])

    def promote(self, name: str, version: str, *, expected_current: str | None) -> None:
        if not _is_version_id(version):
            raise VersionNotFoundError("no such version")
        if expected_current is not None and not _is_version_id(expected_current):
            raise ConflictError("promotion failed: the current version changed")
        if expected_current is None:
            expected_current = self._current(name, writing=True)
        try:
            # Atomic: AWS refuses the move when expected_current no longer holds AWSCURRENT.
            self.client.update_secret_version_stage(
                SecretId=name, VersionStage=CURRENT, MoveToVersionId=version,
                RemoveFromVersionId=expected_current,
            )
        except botocore.exceptions.ClientError as exc:
            if _error_code(exc) in _INVALID:
                raise ConflictError("promotion failed: the current version changed") from exc
            raise
        self._drop_stage(name, PENDING, version)

    def discard(self, name: str, version: str) -> None:
        stages = self._stages_of(name).get(version)
        if stages is None:
            raise VersionNotFoundError("no such version")
        if CURRENT in stages:
            raise ConflictError("the version is current; it can no longer be discarded")
        if PENDING in stages:
            # Without stages the version is deprecated: never current, removed by AWS later.
            self.client.update_secret_version_stage(
                SecretId=name, VersionStage=PENDING, RemoveFromVersionId=version
            )

    def delete(self, name: str, *, purge: bool = False) -> None:
        if purge:
            # AWS (and moto) accept a forced delete of a missing secret silently: ask first,
            # so that deleting a missing secret is "not found" as on every backend.
            self.client.describe_secret(SecretId=name)
            self.client.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
        else:
            self.client.delete_secret(
                SecretId=name, RecoveryWindowInDays=self.recovery_window_days
            )

    @extra_operation(writes=True)
    def restore(self, name: str) -> None:
        """Cancel the scheduled deletion of ``name`` (within its recovery window).

        Not part of the portable API: call it as ``store.extras.restore(name)``, which runs it
        through the store's call pipeline (checked, retried, translated, audited).
        """
        self.client.restore_secret(SecretId=name)

    # -- errors and housekeeping -----------------------------------------------------------

    def classify(self, exc: BaseException) -> Classified | None:
        if isinstance(exc, botocore.exceptions.ClientError):
            return _classify_client_error(exc)
        if isinstance(exc, (botocore.exceptions.ReadTimeoutError,
                            botocore.exceptions.ConnectTimeoutError)):
            return Classified(ErrorCode.DEADLINE_EXCEEDED,
                              f"AWS Secrets Manager timed out ({type(exc).__name__})",
                              transient=True)
        if isinstance(exc, (botocore.exceptions.EndpointConnectionError,
                            botocore.exceptions.ConnectionClosedError,
                            botocore.exceptions.ConnectionError,
                            botocore.exceptions.HTTPClientError)):
            return Classified(ErrorCode.UNAVAILABLE,
                              f"AWS Secrets Manager unreachable ({type(exc).__name__})")
        if isinstance(exc, (botocore.exceptions.NoCredentialsError,
                            botocore.exceptions.PartialCredentialsError,
                            botocore.exceptions.CredentialRetrievalError,
                            botocore.exceptions.TokenRetrievalError)):
            return Classified(ErrorCode.UNAUTHENTICATED,
                              f"no usable AWS credentials ({type(exc).__name__})")
        if isinstance(exc, (botocore.exceptions.ParamValidationError,
                            botocore.exceptions.NoRegionError)):
            # The validation message can quote parameter values: never reuse it.
            return Classified(ErrorCode.INVALID_ARGUMENT,
                              f"AWS request rejected by the SDK ({type(exc).__name__})")
        if isinstance(exc, botocore.exceptions.BotoCoreError):
            return Classified(ErrorCode.UNKNOWN, f"AWS SDK error ({type(exc).__name__})")
        return None

    def close(self) -> None:
        if self._owns_client:
            self.client.close()


def _classify_client_error(exc: botocore.exceptions.ClientError) -> Classified:
    code = _error_code(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    operation = exc.operation_name or "call"
    # Built from the operation, error code and status only: service text can echo requests.
    message = f"AWS Secrets Manager {operation}: {code or 'error'}" + (
        f" (HTTP {status})" if status else ""
    )
    if code in _NOT_FOUND:
        return Classified(ErrorCode.NOT_FOUND, message)
    if code == "InvalidRequestException":
        if _is_deleted_error(exc):
            if operation in _READS:
                return Classified(ErrorCode.NOT_FOUND, f"{message}: {_DELETED_READ}")
            return Classified(ErrorCode.CONFLICT, f"{message}: {_DELETED_WRITE}")
        return Classified(ErrorCode.INVALID_ARGUMENT, message)
    if code in ("DecryptionFailure", "EncryptionFailure"):
        return Classified(ErrorCode.PERMISSION_DENIED,
                          f"{message}: check kms:Decrypt/kms:GenerateDataKey on the secret's key")
    if code in _DENIED:
        return Classified(ErrorCode.PERMISSION_DENIED, message)
    if code in _UNAUTHENTICATED:
        return Classified(ErrorCode.UNAUTHENTICATED, message)
    if code in _THROTTLED or status == 429:
        return Classified(ErrorCode.THROTTLED, message, retry_after=_retry_after(exc))
    if code == "LimitExceededException":
        # A quota (secrets per account, versions per secret), not a rate: retrying won't help.
        return Classified(ErrorCode.THROTTLED, message, transient=False)
    if code in _CONFLICT:
        return Classified(ErrorCode.CONFLICT, message)
    if code in _INVALID:
        return Classified(ErrorCode.INVALID_ARGUMENT, message)
    if code in _UNAVAILABLE or (isinstance(status, int) and status >= 500):
        return Classified(ErrorCode.UNAVAILABLE, message, retry_after=_retry_after(exc))
    return Classified(ErrorCode.UNKNOWN, message)


def _value_param(value: str | bytes) -> dict[str, str | bytes]:
    return {"SecretBinary": value} if isinstance(value, bytes) else {"SecretString": value}


#: AWS's tag limits: 50 per resource, keys 1-128 characters, values up to 256.
_MAX_TAGS = 50
_TAG_PUNCTUATION = frozenset("_.:/=+-@")


def _tags_problem(tags: Mapping[str, str]) -> str | None:
    """What AWS would refuse in ``tags``, or ``None``. Never quotes a key or value."""
    if len(tags) > _MAX_TAGS:
        return f"{len(tags)} tags; AWS allows at most {_MAX_TAGS} per secret"
    for key, value in tags.items():
        if not 1 <= len(key) <= 128 or len(value) > 256:
            return "tag keys are 1-128 characters and values at most 256"
        if key.lower().startswith("aws:"):
            return "tag keys starting with 'aws:' are reserved by AWS"
        if not all(c.isalnum() or c.isspace() or c in _TAG_PUNCTUATION for c in key + value):
            return "tags take letters, digits, spaces and _ . : / = + - @ only"
    return None


def _tags(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _timestamp(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else 0.0
