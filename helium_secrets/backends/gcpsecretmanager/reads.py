"""GCP's reads: values, versions and names, and the state every part of the backend shares."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

import google_crc32c
from google.api_core import exceptions as api_exceptions
from google.cloud.secretmanager_v1 import types

from helium_secrets._values import VersionInfo
from helium_secrets.access import AccessReview, Grant
from helium_secrets.backends._base import RawSecret
from helium_secrets.backends._flows import Call, Flow
from helium_secrets.backends._shells import Operations
from helium_secrets.backends.gcpsecretmanager.names import VERSION_ID, decode_name, encode_name, valid_alias
from helium_secrets.errors import (
    IntegrityError,
    InvalidArgumentError,
    SecretNotFoundError,
    VersionNotFoundError,
)
from helium_secrets.lifecycle import Lifecycle

__all__ = ["STATES", "Reads", "crc32c", "plain_datetime", "version_of"]

STATES = {
    types.SecretVersion.State.ENABLED: "enabled",
    types.SecretVersion.State.DISABLED: "disabled",
    types.SecretVersion.State.DESTROYED: "destroyed",
}
_EMPTY: Mapping[str, str] = MappingProxyType({})


def crc32c(data: bytes) -> int:
    """The CRC32C (Castagnoli) checksum of ``data``, as Secret Manager computes it."""
    return int(google_crc32c.value(data))


class Reads(Operations):
    """The reading half of both GCP backends (:class:`GCPSecretManagerBackend` and its async
    twin), as flows (:mod:`~helium_secrets.backends._flows`), with the state it is built with."""

    project: str
    location: str | None
    _parent: str
    _timeout: float
    _page_size: int
    _read_metadata: bool
    _raw_names: bool
    _current_alias: str | None

    # -- resource names --------------------------------------------------------------------

    def _secret_id(self, name: str) -> str:
        return name if self._raw_names else encode_name(name)

    def _portable(self, resource_name: str) -> str | None:
        secret_id = resource_name.rsplit("/", 1)[-1]
        if self._raw_names:
            return secret_id
        return decode_name(secret_id)

    def _secret_path(self, name: str) -> str:
        return f"{self._parent}/secrets/{self._secret_id(name)}"

    def _version_path(self, name: str, version: str) -> str:
        return f"{self._secret_path(name)}/versions/{version}"

    def _call(self, method: str, *, collect: bool = False, **kwargs: Any) -> Call:
        """A call of the client's ``method``, without google-api-core's retries (the store
        retries) and with this backend's timeout."""
        return Call(method, {**kwargs, "retry": None, "timeout": self._timeout}, collect)

    # -- reading ---------------------------------------------------------------------------

    def _get(self, name: str, version: str | None = None, label: str | None = None,
             ) -> Flow[RawSecret]:
        if version is not None and label is not None:
            raise InvalidArgumentError("give a version or a label, not both")
        if version is not None:
            if not VERSION_ID.fullmatch(version):
                raise VersionNotFoundError("GCP version ids are positive integers")
            spec = version
        elif label is not None:
            if not valid_alias(label):
                raise VersionNotFoundError("no such alias (not a valid GCP alias name)")
            spec = label
        else:
            spec = None
        # The metadata first: once the payload is here, no call may fail with it in a local.
        secret = (yield from self._get_secret(name)) if self._read_metadata else None
        if spec is None:
            response = yield from self._access_current(name)
        else:
            # NotFound (no such secret, or no such version: the store asks which) is raised.
            try:
                response = yield from self._access(name, spec)
            except api_exceptions.FailedPrecondition as exc:
                raise VersionNotFoundError("the version is disabled or destroyed") from exc
        checked = _checked_payload(response)
        del response  # it holds the payload: gone before anything can raise (error reporters)
        if checked is None:
            raise IntegrityError("the payload failed its CRC32C check; the value was not returned")
        value, version_id = checked
        labels: frozenset[str] = frozenset([label]) if label is not None else frozenset()
        metadata = _EMPTY
        if secret is not None:
            labels = frozenset(
                alias for alias, number in secret.version_aliases.items()
                if str(number) == version_id
            ) | labels
            metadata = MappingProxyType({**secret.labels, **secret.annotations})
        return RawSecret(name=name, value=value, version=version_id, labels=labels,
                         metadata=metadata)

    def _current_version(self, name: str) -> Flow[str]:
        # An access call, on purpose: the 90,000/min access quota, not the 600/min read quota.
        return version_of((yield from self._access_current(name)).name)

    def _access_current(self, name: str) -> Flow[types.AccessSecretVersionResponse]:
        """Access the current version: the current alias in alias mode, else ``latest``."""
        if self._current_alias is not None:
            try:
                return (yield from self._access(name, self._current_alias))
            except api_exceptions.NotFound:
                pass  # the alias is not set yet (a secret written by other tools): latest
            except api_exceptions.FailedPrecondition as exc:
                raise VersionNotFoundError("the current version is disabled or destroyed") from exc
        try:
            return (yield from self._access(name, "latest"))
        except api_exceptions.FailedPrecondition:
            return (yield from self._access_newest_enabled(name))

    def _access(self, name: str, spec: str) -> Flow[types.AccessSecretVersionResponse]:
        response: types.AccessSecretVersionResponse = yield self._call(
            "access_secret_version", name=self._version_path(name, spec))
        return response

    def _access_newest_enabled(self, name: str) -> Flow[types.AccessSecretVersionResponse]:
        """The latest version is disabled or destroyed: the newest enabled one is current.

        Finding it lists the versions (``secretmanager.versions.list``, which the accessor
        role lacks); without that permission, the current version is simply not readable.
        """
        try:
            listed = yield from self._list_raw_versions(name)
        except api_exceptions.PermissionDenied as exc:
            raise VersionNotFoundError(
                "the latest version is disabled or destroyed (listing the versions to find an "
                "enabled one was denied)"
            ) from exc
        enabled = [v for v in listed if v.state == types.SecretVersion.State.ENABLED]
        if not enabled:
            raise VersionNotFoundError("the secret has no enabled version")
        newest = max(enabled, key=lambda v: int(v.name.rsplit("/", 1)[-1]))
        return (yield from self._access(name, newest.name.rsplit("/", 1)[-1]))

    def _get_secret(self, name: str) -> Flow[types.Secret]:
        secret: types.Secret = yield self._call("get_secret", name=self._secret_path(name))
        return secret

    def _list_raw_versions(self, name: str) -> Flow[list[types.SecretVersion]]:
        request = types.ListSecretVersionsRequest(
            parent=self._secret_path(name), page_size=self._page_size
        )
        versions: list[types.SecretVersion] = yield self._call(
            "list_secret_versions", request=request, collect=True)
        return versions

    def _list_names(self, prefix: str = "") -> Flow[list[str]]:
        request = types.ListSecretsRequest(parent=self._parent, page_size=self._page_size)
        secrets = yield self._call("list_secrets", request=request, collect=True)
        names = []
        for secret in secrets:
            name = self._portable(secret.name)
            if name is not None and name.startswith(prefix):
                names.append(name)
        return names

    def _list_versions(self, name: str) -> Flow[list[VersionInfo]]:
        raw = yield from self._list_raw_versions(name)
        if not raw:  # a secret with no version does not exist for the portable model
            raise SecretNotFoundError("the secret has no versions")
        aliases: dict[str, set[str]] = {}
        for alias, number in (yield from self._get_secret(name)).version_aliases.items():
            aliases.setdefault(str(number), set()).add(alias)
        infos = []
        for version in raw:
            version_id = str(version.name.rsplit("/", 1)[-1])
            created = version.create_time if "create_time" in version else None
            infos.append(
                VersionInfo(
                    version=version_id,
                    labels=frozenset(aliases.get(version_id, ())),
                    created_at=plain_datetime(created),
                    state=STATES.get(version.state, "unknown"),
                )
            )
        return sorted(infos, key=lambda v: int(v.version))

    def _access_review(self, name: str) -> Flow[AccessReview]:
        policy = yield self._call("get_iam_policy", request={"resource": self._secret_path(name)})
        return AccessReview(name, tuple(_iam_grants(policy.bindings)), read_from="GetIamPolicy",
                            complete=False, not_shown=_IAM_NOT_SHOWN)

    def _lifecycle(self, name: str) -> Flow[Lifecycle]:
        secret = yield from self._get_secret(name)
        raw = yield from self._list_raw_versions(name)
        if not raw:
            raise SecretNotFoundError("the secret has no versions")
        by_id = {version_of(v.name): v for v in raw}
        aliased = (secret.version_aliases.get(self._current_alias)
                   if self._current_alias is not None else None)
        enabled = [v for v in raw if v.state == types.SecretVersion.State.ENABLED]
        current = (by_id.get(str(aliased)) if aliased is not None
                   else max(enabled, key=lambda v: int(version_of(v.name)), default=None))
        rotation = secret.rotation if "rotation" in secret else None
        return Lifecycle(
            name, _DESCRIBED,
            created_at=plain_datetime(secret.create_time if "create_time" in secret else None),
            updated_at=plain_datetime(current.create_time) if current is not None else None,
            expires_at=plain_datetime(secret.expire_time if "expire_time" in secret else None),
            next_rotation_at=plain_datetime(
                rotation.next_rotation_time
                if rotation is not None and "next_rotation_time" in rotation else None),
            rotation_enabled=rotation is not None,
            current_version=version_of(current.name) if current is not None else None,
            versions=len(raw))



#: The predefined roles that hold ``secretmanager.versions.access``.
_READER_ROLES = frozenset({"roles/secretmanager.secretAccessor", "roles/secretmanager.admin",
                           "roles/owner"})
_IAM_NOT_SHOWN = ("IAM policies of the project, its folders and its organisation can also "
                  "grant access; the secret's own policy does not show them")


def _iam_grants(bindings: Any) -> Iterator[Grant]:
    for binding in bindings:
        role = str(binding.role)
        custom = "/roles/" in role  # projects/P/roles/R, organizations/O/roles/R
        if role not in _READER_ROLES and not custom:
            continue
        source = "IAM policy of the secret" + (", a custom role" if custom else "")
        conditional = custom or bool(binding.condition.expression)
        for member in binding.members:
            yield Grant(str(member), (role,), source=source, conditional=conditional)


#: What GetSecret and ListSecretVersions tell.
_DESCRIBED = frozenset({"created_at", "updated_at", "expires_at", "next_rotation_at",
                        "rotation_enabled", "current_version", "versions"})


def version_of(resource_name: str) -> str:
    """The version id at the end of a version's resource name."""
    return str(resource_name.rsplit("/", 1)[-1])


def plain_datetime(value: Any) -> datetime | None:
    """proto-plus returns a ``DatetimeWithNanoseconds``; hand out a plain ``datetime``."""
    if value is None:
        return None
    return datetime.fromtimestamp(value.timestamp(), tz=value.tzinfo)


def _checked_payload(
    response: types.AccessSecretVersionResponse,
) -> tuple[str | bytes, str] | None:
    """The value and version id of an access response; ``None`` if its payload fails the
    CRC32C check (the caller raises, once no local holds the payload)."""
    # The protobuf under the proto-plus wrapper: each field read through the wrapper costs
    # microseconds (a marshal lookup and a copy), which was most of a cache miss's overhead.
    message = types.AccessSecretVersionResponse.pb(response)
    payload = message.payload
    data = payload.data
    if payload.HasField("data_crc32c") and crc32c(data) != payload.data_crc32c:
        return None
    version_id = message.name.rsplit("/", 1)[-1]
    try:
        return data.decode("utf-8"), version_id
    except UnicodeDecodeError:
        return data, version_id
