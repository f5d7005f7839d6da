"""AWS's reads: values (one, or a batch), the current version, names and versions; and the state
every part of the backend shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import botocore.exceptions

from helium_secrets._values import VersionInfo
from helium_secrets.access import AccessReview
from helium_secrets.backends._base import RawSecret
from helium_secrets.backends._flows import Call, Flow
from helium_secrets.backends._shells import Operations
from helium_secrets.backends.awssecretsmanager import access
from helium_secrets.backends.awssecretsmanager.errors import (
    DELETED_READ,
    DELETED_WRITE,
    error_code,
    is_deleted_error,
)
from helium_secrets.backends.awssecretsmanager.names import (
    CURRENT,
    MAX_NAME,
    PREFIX_RE,
    is_version_id,
)
from helium_secrets.errors import (
    ConflictError,
    IntegrityError,
    SecretNotFoundError,
    VersionNotFoundError,
)
from helium_secrets.lifecycle import Lifecycle

__all__ = ["BATCH_SIZE", "Reads", "check_one_current", "list_params", "names_in",
           "next_page"]

#: BatchGetSecretValue takes at most 20 secret ids (moto takes more; AWS does not).
BATCH_SIZE = 20


class Reads(Operations):
    """The reading half of both AWS backends (:class:`AWSSecretsManagerBackend` and its async
    twin), as flows (:mod:`~helium_secrets.backends._flows`), with the state it is built with."""

    _batch_denied: bool

    def _get(self, name: str, version: str | None = None, label: str | None = None,
             ) -> Flow[RawSecret]:
        if version is not None and not is_version_id(version):
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
            response = yield Call("get_secret_value", params)
        except botocore.exceptions.ClientError as exc:
            # AWS says precisely when the version exists but does not carry the stage; a plain
            # "not found" (no such secret, version or stage) is left to the store to tell apart.
            if ((version is not None or label is not None)
                    and error_code(exc) == "InvalidRequestException" and not is_deleted_error(exc)):
                raise VersionNotFoundError("the version does not carry that label") from exc
            raise
        return self._raw(name, response)

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

    def _get_many(self, names: Sequence[str]) -> Flow[dict[str, RawSecret | BaseException]]:
        # The store sends distinct names, at most capabilities.batch_get (BATCH_SIZE) of them;
        # more (a direct call) go BATCH_SIZE a call, AWS's limit (moto takes more).
        if not self._batch_denied:
            try:
                out: dict[str, RawSecret | BaseException] = {}
                for start in range(0, len(names), BATCH_SIZE):
                    out.update((yield from self._batch(names[start:start + BATCH_SIZE])))
                return out
            except botocore.exceptions.ClientError as exc:
                if error_code(exc) not in ("AccessDeniedException", "AccessDenied"):
                    raise
                # A policy allows GetSecretValue but not the batch call: read one by one, now
                # and from now on.
                self._batch_denied = True
        return (yield from super()._get_many(names))

    def _batch(self, chunk: Sequence[str]) -> Flow[dict[str, RawSecret | BaseException]]:
        out: dict[str, RawSecret | BaseException] = {}
        params: dict[str, Any] = {"SecretIdList": list(chunk)}
        while True:
            response = yield Call("batch_get_secret_value", params)
            for item in response.get("SecretValues", ()):
                for key in (item.get("Name"), item.get("ARN")):  # asked by name, or by ARN
                    if key in chunk:
                        out[key] = self._raw(key, item)
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
            params = {**params, "NextToken": token}
        for name in chunk:
            out.setdefault(name, SecretNotFoundError("secret not found"))
        return out

    def _current_version(self, name: str) -> Flow[str]:
        return (yield from self._current(name, writing=False))

    def _current(self, name: str, *, writing: bool) -> Flow[str]:
        description = yield from self._describe(name, writing=writing)
        current = [str(version) for version, stages
                   in (description.get("VersionIdsToStages") or {}).items() if CURRENT in stages]
        check_one_current(current)
        if current:
            return current[0]
        raise SecretNotFoundError("the secret has no current version")

    def _describe(self, name: str, *, writing: bool) -> Flow[dict[str, Any]]:
        """DescribeSecret, which answers for a secret scheduled for deletion too: then, like
        the service's own refusals, "not found" to a read and a conflict to a write."""
        description: dict[str, Any] = yield Call("describe_secret", {"SecretId": name})
        if description.get("DeletedDate"):
            if writing:
                raise ConflictError(DELETED_WRITE)
            raise SecretNotFoundError(DELETED_READ)
        return description

    def _list_names(self, prefix: str = "") -> Flow[list[str]]:
        names: list[str] = []
        params = list_params(prefix)
        while params is not None:
            page = yield Call("list_secrets", params)
            names.extend(names_in(page, prefix))
            params = next_page(params, page)
        return names

    def _list_versions(self, name: str) -> Flow[list[VersionInfo]]:
        # ListSecretVersionIds answers for a secret scheduled for deletion: ask first.
        yield from self._describe(name, writing=False)
        versions: list[dict[str, Any]] = []
        params: dict[str, Any] | None = {"SecretId": name, "IncludeDeprecated": True}
        while params is not None:  # botocore has no paginator for this operation
            page = yield Call("list_secret_version_ids", params)
            versions.extend(page.get("Versions", ()))
            params = next_page(params, page)
        check_one_current([str(v["VersionId"]) for v in versions
                           if CURRENT in (v.get("VersionStages") or ())])
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

    def _access_review(self, name: str) -> Flow[AccessReview]:
        answer = yield Call("get_resource_policy", {"SecretId": name})
        return access.review(name, answer.get("ResourcePolicy"))

    def _lifecycle(self, name: str) -> Flow[Lifecycle]:
        d = yield from self._describe(name, writing=False)
        stages = d.get("VersionIdsToStages") or {}
        current = next((str(v) for v, s in stages.items() if CURRENT in s), None)
        return Lifecycle(
            name, _DESCRIBED, created_at=d.get("CreatedDate"), updated_at=d.get("LastChangedDate"),
            rotated_at=d.get("LastRotatedDate"), next_rotation_at=d.get("NextRotationDate"),
            accessed_at=d.get("LastAccessedDate"), rotation_enabled=bool(d.get("RotationEnabled")),
            current_version=current, versions=len(stages))



def list_params(prefix: str) -> dict[str, Any] | None:
    """ListSecrets' first request for the names under ``prefix`` (``None``: no AWS name can
    start with it, and AWS's filter would refuse it)."""
    if len(prefix) > MAX_NAME or not PREFIX_RE.fullmatch(prefix):
        return None
    params: dict[str, Any] = {"MaxResults": 100}
    if prefix:
        # AWS matches the name filter as a case-insensitive prefix: filter again exactly.
        params["Filters"] = [{"Key": "name", "Values": [prefix]}]
    return params


def names_in(page: Mapping[str, Any], prefix: str) -> list[str]:
    """The names of a ListSecrets page that really start with ``prefix``."""
    return [name for entry in page.get("SecretList", ())
            if (name := entry.get("Name", "")).startswith(prefix)]


def next_page(params: dict[str, Any], page: Mapping[str, Any]) -> dict[str, Any] | None:
    """The request for the page after ``page`` (``None``: it was the last)."""
    token = page.get("NextToken")
    return {**params, "NextToken": token} if token else None


#: What DescribeSecret tells (no expiry: AWS secrets have none).
_DESCRIBED = frozenset({"created_at", "updated_at", "rotated_at", "next_rotation_at",
                        "accessed_at", "rotation_enabled", "current_version", "versions"})


def check_one_current(current: Sequence[str]) -> None:
    """Refuse a secret with two AWSCURRENT versions, which AWS never has: only moto gets there
    (its default version does not follow a stage move), and then reads disagree on the value.

    :raises IntegrityError: ``current`` lists more than one version.
    """
    if len(current) > 1:
        raise IntegrityError(
            f"{len(current)} versions carry AWSCURRENT ({', '.join(sorted(current))}), which "
            "AWS never allows: this is moto's known defect (its default version does not "
            "follow UpdateSecretVersionStage); call helium_secrets.testing.moto.patch_moto() "
            "before starting moto (see docs/backends/aws.md, \"Testing with moto\")")


def _timestamp(moment: datetime | None) -> float:
    return moment.timestamp() if moment is not None else 0.0
