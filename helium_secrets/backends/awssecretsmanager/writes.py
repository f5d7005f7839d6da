"""AWS's writes: versions (with request tokens), check-and-set by staging label, labels,
staged rotation (AWSPENDING), deletion and restore."""

from __future__ import annotations

import contextlib
import hashlib
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import botocore.exceptions

from helium_secrets._values import VersionInfo
from helium_secrets.backends._flows import Call, Flow
from helium_secrets.backends.awssecretsmanager.errors import (
    CONFLICT,
    INVALID,
    NOT_FOUND,
    error_code,
)
from helium_secrets.backends.awssecretsmanager.names import (
    CURRENT,
    PENDING,
    is_arn,
    is_version_id,
)
from helium_secrets.backends.awssecretsmanager.reads import Reads
from helium_secrets.errors import ConflictError, InvalidArgumentError, VersionNotFoundError

__all__ = ["Writes", "tags_problem"]

_TOKEN_RE = re.compile(r"[A-Za-z0-9-]{32,64}")


class Writes(Reads):
    """The writing half of both AWS backends, as flows."""

    recovery_window_days: int
    kms_key_id: str | None
    description: str | None
    tags: dict[str, str]

    def _put(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_version: str | None = None,
        create_only: bool = False,
        request_token: str | None = None,
        metadata: Mapping[str, str] | None = None,
        labels: Sequence[str] = (),
    ) -> Flow[VersionInfo]:
        if is_arn(name):
            raise InvalidArgumentError(
                "an ARN names a secret for reads; write it by its name (the part after "
                "':secret:', without AWS's 6-character suffix)")
        if not value:
            raise InvalidArgumentError("AWS Secrets Manager does not store empty values")
        # Checked first: a tag AWS refuses after PutSecretValue would leave the version written.
        problem = tags_problem({**self.tags, **(metadata or {})})
        if problem is not None:
            raise InvalidArgumentError(f"metadata becomes AWS tags: {problem}")
        token = _request_token(request_token)
        labels = [label for label in dict.fromkeys(labels) if label != CURRENT]
        if create_only:
            return (yield from self._create(name, value, token, metadata, labels,
                                            create_only=True))
        if expected_version is not None and not is_version_id(expected_version):
            # No AWS version has such an id, so it is not the current one; and sending it
            # would fail the SDK's validation after the new version was written.
            raise ConflictError("check-and-set failed: the current version changed")
        if expected_version is not None:
            # Only with atomic_check_and_set; otherwise the store compares first and passes none.
            return (yield from self._put_atomic(name, value, token, expected_version, labels,
                                                metadata))
        try:
            info = yield from self._put_value(name, value, token,
                                              [CURRENT, *labels] if labels else None)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) not in NOT_FOUND or expected_version is not None:
                raise
            # Missing: create it. A concurrent creator may win; then add a version.
            return (yield from self._create(name, value, token, metadata, labels,
                                            create_only=False))
        if metadata:
            yield _tag(name, metadata)
        return (yield from self._ensure_labels(name, info, labels))

    def _ensure_labels(self, name: str, info: VersionInfo, labels: Sequence[str],
                       ) -> Flow[VersionInfo]:
        """Add the labels a first attempt did not get to (a create that failed after
        CreateSecret): AWS ignores a repeated PutSecretValue, stages included."""
        missing = [label for label in labels if label not in info.labels]
        for label in missing:
            yield from self._set_label(name, label, info.version)
        return VersionInfo(version=info.version, labels=info.labels | frozenset(missing))

    def _put_value(
        self, name: str, value: str | bytes, token: str, stages: list[str] | None
    ) -> Flow[VersionInfo]:
        params: dict[str, Any] = {"SecretId": name, "ClientRequestToken": token,
                                  **_value_param(value)}
        if stages is not None:
            params["VersionStages"] = stages
        response = yield Call("put_secret_value", params)
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
    ) -> Flow[VersionInfo]:
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
            response = yield Call("create_secret", params)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) not in CONFLICT:
                raise
            # Exists: ours already if a retried create lost its answer; else someone else's.
            stages = (yield from self._stages_of(name)).get(token)
            if stages is not None:
                return (yield from self._ensure_labels(
                    name, VersionInfo(version=token, labels=frozenset(stages)), labels
                ))
            if create_only:
                raise ConflictError("the secret already exists") from exc
            # Someone else created it meanwhile: add our version to it.
            info = yield from self._put_value(name, value, token,
                                              [CURRENT, *labels] if labels else None)
            if metadata:
                yield _tag(name, metadata)
            return (yield from self._ensure_labels(name, info, labels))
        version = str(response["VersionId"])
        for label in labels:
            yield _move_stage(name, label, to=version)
        return VersionInfo(version=version, labels=frozenset([CURRENT, *labels]))

    def _put_atomic(
        self,
        name: str,
        value: str | bytes,
        token: str,
        expected_version: str,
        labels: Sequence[str],
        metadata: Mapping[str, str] | None,
    ) -> Flow[VersionInfo]:
        """Check-and-set without a race: write the version under a private staging label,
        then move AWSCURRENT to it *from* ``expected_version``, which AWS refuses when
        ``expected_version`` no longer holds AWSCURRENT."""
        pending = f"helium-pending-{token[:32]}"
        try:
            version = (yield from self._put_value(name, value, token, [pending])).version
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in NOT_FOUND:
                raise ConflictError("check-and-set failed: the secret does not exist") from exc
            raise
        try:
            yield _move_stage(name, CURRENT, to=version, away_from=expected_version)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) not in INVALID:
                raise
            if CURRENT not in (yield from self._stages_of(name)).get(version, ()):
                # not a retry of ours
                yield from self._drop_stage(name, pending, version)
                raise ConflictError(
                    "check-and-set failed: the current version changed"
                ) from exc
        yield from self._drop_stage(name, pending, version)
        for label in labels:
            yield from self._set_label(name, label, version)
        if metadata:
            yield _tag(name, metadata)
        return VersionInfo(version=version, labels=frozenset([CURRENT, *labels]))

    def _drop_stage(self, name: str, stage: str, version: str) -> Flow[None]:
        # Already gone after a retry, or failing: a leftover private label is harmless.
        with contextlib.suppress(botocore.exceptions.ClientError):
            yield _move_stage(name, stage, away_from=version)

    def _stages_of(self, name: str) -> Flow[dict[str, list[str]]]:
        # Only writes ask for the stages: a secret scheduled for deletion is a conflict here.
        description = yield from self._describe(name, writing=True)
        stages: dict[str, list[str]] = description.get("VersionIdsToStages") or {}
        return stages

    def _set_label(self, name: str, label: str, version: str | None) -> Flow[None]:
        if version is not None and not is_version_id(version):
            raise VersionNotFoundError("no such version")
        stages_of = yield from self._stages_of(name)
        holder = next((v for v, stages in stages_of.items() if label in stages), None)
        if holder == version:
            return
        if version is None and holder is None:
            return
        if label == CURRENT and version is None:
            raise InvalidArgumentError("AWSCURRENT cannot be removed, only moved")
        try:
            yield _move_stage(name, label, to=version, away_from=holder)
        except botocore.exceptions.ClientError as exc:
            if version is not None and error_code(exc) in INVALID | NOT_FOUND:
                yield from self._stages_of(name)  # the secret exists: the version does not
                raise VersionNotFoundError("no such version") from exc
            raise

    # -- staged rotation (AWS's own AWSPENDING protocol) -------------------------------------

    def _stage(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_current: str | None,
        request_token: str | None = None,
    ) -> Flow[VersionInfo]:
        if not value:
            raise InvalidArgumentError("AWS Secrets Manager does not store empty values")
        token = _request_token(request_token)
        if expected_current is not None:
            current = yield from self._current(name, writing=True)
            if current != expected_current:
                raise ConflictError("staging failed: the current version changed")
        # AWSPENDING moves to the new version; a reader of AWSCURRENT does not see it.
        return (yield from self._put_value(name, value, token, [PENDING]))

    def _promote(self, name: str, version: str, *, expected_current: str | None) -> Flow[None]:
        if not is_version_id(version):
            raise VersionNotFoundError("no such version")
        if expected_current is not None and not is_version_id(expected_current):
            raise ConflictError("promotion failed: the current version changed")
        if expected_current is None:
            expected_current = yield from self._current(name, writing=True)
        try:
            # Atomic: AWS refuses the move when expected_current no longer holds AWSCURRENT.
            yield _move_stage(name, CURRENT, to=version, away_from=expected_current)
        except botocore.exceptions.ClientError as exc:
            if error_code(exc) in INVALID:
                raise ConflictError("promotion failed: the current version changed") from exc
            raise
        yield from self._drop_stage(name, PENDING, version)

    def _discard(self, name: str, version: str) -> Flow[None]:
        stages = (yield from self._stages_of(name)).get(version)
        if stages is None:
            raise VersionNotFoundError("no such version")
        if CURRENT in stages:
            raise ConflictError("the version is current; it can no longer be discarded")
        if PENDING in stages:
            # Without stages the version is deprecated: never current, removed by AWS later.
            yield _move_stage(name, PENDING, away_from=version)

    def _delete(self, name: str, *, purge: bool = False) -> Flow[None]:
        if purge:
            # AWS (and moto) accept a forced delete of a missing secret silently: ask first,
            # so that deleting a missing secret is "not found" as on every backend.
            yield Call("describe_secret", {"SecretId": name})
            yield Call("delete_secret", {"SecretId": name, "ForceDeleteWithoutRecovery": True})
        else:
            yield Call("delete_secret", {"SecretId": name,
                                         "RecoveryWindowInDays": self.recovery_window_days})

    def _restore(self, name: str) -> Flow[None]:
        yield Call("restore_secret", {"SecretId": name})


def _move_stage(name: str, stage: str, *, to: str | None = None,
                away_from: str | None = None) -> Call:
    """UpdateSecretVersionStage: move ``stage`` to version ``to`` (and/or off ``away_from``)."""
    params: dict[str, Any] = {"SecretId": name, "VersionStage": stage}
    if to is not None:
        params["MoveToVersionId"] = to
    if away_from is not None:
        params["RemoveFromVersionId"] = away_from
    return Call("update_secret_version_stage", params)


def _tag(name: str, metadata: Mapping[str, str]) -> Call:
    return Call("tag_resource", {"SecretId": name, "Tags": _tags(metadata)})


def _request_token(token: str | None) -> str:
    """A ClientRequestToken (32-64 characters) for ``token``, the same on every retry."""
    if token is None:
        return str(uuid.uuid4())
    if _TOKEN_RE.fullmatch(token):
        return token
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _value_param(value: str | bytes) -> dict[str, str | bytes]:
    return {"SecretBinary": value} if isinstance(value, bytes) else {"SecretString": value}


#: AWS's tag limits: 50 per resource, keys 1-128 characters, values up to 256.
_MAX_TAGS = 50
_TAG_PUNCTUATION = frozenset("_.:/=+-@")


def tags_problem(tags: Mapping[str, str]) -> str | None:
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
