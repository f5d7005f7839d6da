"""``gcpsecretmanager://``: GCP Secret Manager, through google-cloud-secret-manager.

URL form: ``gcpsecretmanager://PROJECT?location=REGION&...`` (see :meth:`from_url`); without
a project, the one of ``google.auth.default()`` is used.

How the portable model maps onto the service:

* **Names.** Secret ids are ``[A-Za-z0-9_-]{1,255}``, without ``/``. Portable names are mapped
  with an escape: an underscore followed by ``S``, ``D``, ``P``, ``E``, ``A`` or ``_`` stands
  for ``/``, ``.``, ``+``, ``=``, ``@`` or ``_``; every other character (an underscore included)
  stands for itself. ``app/db.url`` is ``app_Sdb_Durl``; ``db_password`` stays
  ``db_password``. The mapping is injective and reversible (:func:`encode_name`,
  :func:`decode_name`); listing skips service ids that no portable name maps to. With
  ``raw_names=True`` names are used unchanged (and must be valid secret ids).
* **Versions** are ``"1"``, ``"2"``, ...; states enabled, disabled, destroyed. The current
  version is ``latest`` (the most recently created one); when that one is disabled or
  destroyed, the newest *enabled* version is current, so disabling a bad version rolls back.
  In *alias mode* (``current_alias="current"``) the current version is the one that alias
  names instead, and puts move it.
* **Labels** are version aliases (an alias names one version at a time). **Metadata** is
  written as the secret's annotations; reads (with ``read_metadata=True``) and version
  listings merge the secret's labels and annotations.
* **Integrity.** Writes send the payload's CRC32C, which the service verifies; reads verify
  the CRC32C the service returns and raise :class:`~helium_secrets.errors.IntegrityError` on
  a mismatch, never returning a damaged value.
* **Quotas.** Reads of values and the rotation probe use ``AccessSecretVersion`` (90,000/min
  per project), not the metadata reads (``GetSecret``, ``List*``: 600/min).
* **Check-and-set.** The service has no "expected version" on ``AddSecretVersion``. By
  default ``expected_version`` is compared with the current version just before the write: a
  writer that slips in between the two calls is not detected (``capabilities.check_and_set``
  is False). In alias mode the check is atomic: the alias is moved under the secret's etag
  only if it still names the expected version, and staged rotation is available. Every
  secret-level update (annotations, aliases) is made under the secret's etag.
* **Retries.** google-api-core's retries are switched off on every call (``retry=None``) and
  every call has a ``timeout``: the store's retry layer is the only one.
"""

from __future__ import annotations

import contextlib
import copy
import ipaddress
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import SplitResult

import google_crc32c
import grpc
from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import Credentials
from google.cloud.secretmanager_v1 import SecretManagerServiceClient, types
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcTransport,
)
from google.protobuf import field_mask_pb2

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
    HeliumError,
    IntegrityError,
    InvalidArgumentError,
    InvalidNameError,
    SecretNotFoundError,
    UnauthenticatedError,
    VersionNotFoundError,
    error_for_code,
)

__all__ = [
    "GCPSecretManagerBackend",
    "GCPSecretManagerOptions",
    "crc32c",
    "decode_name",
    "encode_name",
]

#: The service's largest payload.
MAX_VALUE_BYTES = 64 * 1024
MAX_SECRET_ID = 255
_SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}")
_ANNOTATION_KEY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")
_VERSION = re.compile(r"[1-9][0-9]{0,18}")
_STATES = {
    types.SecretVersion.State.ENABLED: "enabled",
    types.SecretVersion.State.DISABLED: "disabled",
    types.SecretVersion.State.DESTROYED: "destroyed",
}
_EMPTY: Mapping[str, str] = MappingProxyType({})

# -- names -------------------------------------------------------------------------------

_ESCAPES = {"/": "S", ".": "D", "+": "P", "=": "E", "@": "A", "_": "_"}
_UNESCAPES = {code: char for char, code in _ESCAPES.items()}


def encode_name(name: str) -> str:
    """Map a portable name to a GCP secret id (see the module docs for the escape)."""
    out: list[str] = []
    for index, char in enumerate(name):
        if char == "_":
            following = name[index + 1 : index + 2]
            # Double the underscore only where the next output character would make it an
            # escape: keeps snake_case ids unchanged.
            escaped_next = following in _ESCAPES or following in _UNESCAPES
            out.append("__" if escaped_next else "_")
        elif char in _ESCAPES:
            out.append("_" + _ESCAPES[char])
        else:
            out.append(char)
    return "".join(out)


def decode_name(secret_id: str) -> str | None:
    """Map a GCP secret id back to its portable name, or ``None`` when no name maps to it."""
    out: list[str] = []
    index = 0
    while index < len(secret_id):
        pair = secret_id[index : index + 2]
        if len(pair) == 2 and pair[0] == "_" and pair[1] in _UNESCAPES:
            out.append(_UNESCAPES[pair[1]])
            index += 2
        else:
            out.append(secret_id[index])
            index += 1
    name = "".join(out)
    segments = name.split("/")
    if any(s in ("", ".", "..") for s in segments) or encode_name(name) != secret_id:
        return None
    return name


def _mapped_length_problem(name: str) -> str | None:
    length = len(encode_name(name))
    if length > MAX_SECRET_ID:
        return f"maps to a {length}-character secret id; GCP allows {MAX_SECRET_ID}"
    return None


def _raw_name_problem(name: str) -> str | None:
    if not _SECRET_ID.fullmatch(name):
        return "with raw_names, a name is a GCP secret id: [A-Za-z0-9_-], 1-255 characters"
    return None


# -- checksums ---------------------------------------------------------------------------


def crc32c(data: bytes) -> int:
    """The CRC32C (Castagnoli) checksum of ``data``, as Secret Manager computes it."""
    return int(google_crc32c.value(data))


def _no_credentials() -> UnauthenticatedError:
    return UnauthenticatedError(
        "no Google credentials found: pass credentials= or set up Application Default "
        "Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud auth application-default login)",
        backend=GCPSecretManagerBackend.name,
    )


def _default_credentials() -> tuple[Any, str | None]:
    import google.auth

    try:
        credentials, project = google.auth.default()
    except auth_exceptions.DefaultCredentialsError as exc:
        raise _no_credentials() from exc
    return credentials, project


# -- errors ------------------------------------------------------------------------------

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


def _locations(text: str) -> tuple[str, ...]:
    """``?replica_locations=a,b``."""
    return tuple(part for part in text.split(",") if part)


def _location_problem(location: str) -> str | None:
    return None if re.fullmatch(r"[a-z0-9-]+", location) else "a GCP location (europe-west1)"


def _alias_problem(alias: str) -> str | None:
    return None if _valid_alias(alias) else "a valid GCP alias name (not latest or new)"


@dataclass(frozen=True, kw_only=True)
class GCPSecretManagerOptions(Options):
    """The options of :class:`GCPSecretManagerBackend` (the table in docs/backends/gcp.md).

    :param project: the project id or number; default: the project of ``google.auth.default()``.
    :param location: a region for regional secrets (``europe-west1``): the regional endpoint
        ``secretmanager.LOCATION.rep.googleapis.com`` and ``projects/P/locations/L`` names.
    :param credentials: ``google.auth`` credentials; default: application default credentials.
    :param client: a ready ``SecretManagerServiceClient`` (it is not closed by :meth:`close`).
    :param transport: a transport (instance, or a name such as ``"grpc"``) for the client we build.
    :param client_options: ``ClientOptions`` (or a dict) for the client we build.
    :param endpoint: ``host:port`` of the API, overriding the global or regional default.
    :param insecure: with ``endpoint`` on a loopback address, talk plaintext gRPC (emulators).
    :param replica_locations: create secrets with user-managed replication in these locations
        instead of automatic replication (global secrets only).
    :param timeout: seconds each call may take.
    :param page_size: the page size asked of List calls.
    :param read_metadata: make :meth:`get` also read the secret (aliases, labels, annotations,
        one ``GetSecret`` call from the 600/min read quota) instead of returning value and
        version only.
    :param raw_names: use names as secret ids, without the escape mapping.
    :param current_alias: *alias mode*: the current version is the one this alias (e.g.
        ``"current"``) names, not ``latest``. Puts move it; check-and-set is atomic (the
        move is made under the secret's etag) and staged rotation works. Versions added by
        tools that don't move the alias are not current until promoted.
    """

    scheme: ClassVar[str] = "gcpsecretmanager"

    project: str | None = option(None, url="host")
    location: str | None = option(None, query=True, check=_location_problem)
    credentials: Credentials | None = None
    client: SecretManagerServiceClient | None = None
    transport: Any = None
    client_options: ClientOptions | Mapping[str, Any] | None = None
    endpoint: str | None = option(None, query=True)
    insecure: bool = option(False, query=True)
    replica_locations: tuple[str, ...] = option((), query=True, parse=_locations)
    timeout: float = option(30.0, query=True, gt=0)
    page_size: int = option(250, query=True, ge=1)
    read_metadata: bool = option(False, query=True)
    raw_names: bool = option(False, query=True)
    current_alias: str | None = option(None, query=True, check=_alias_problem)


class GCPSecretManagerBackend(BackendBase):
    """GCP Secret Manager, global or regional, through ``SecretManagerServiceClient``.

    :param project: the project (see :class:`GCPSecretManagerOptions`).
    :param options: a ready :class:`GCPSecretManagerOptions`, or pass its fields as keywords.
    """

    name: ClassVar[str] = "gcp"

    def __init__(
        self,
        project: str | None = None,
        *,
        options: GCPSecretManagerOptions | None = None,
        **keywords: Any,
    ) -> None:
        if project is not None:
            keywords["project"] = project
        self._options = opts = build(GCPSecretManagerOptions, options, keywords)
        project, location, credentials, client = (
            opts.project, opts.location, opts.credentials, opts.client
        )
        current_alias, raw_names = opts.current_alias, opts.raw_names
        if location is not None and opts.replica_locations:
            raise ValueError("regional secrets (location=) take no replica_locations")
        if project is None:
            default_credentials, project = _default_credentials()
            if credentials is None:
                credentials = default_credentials
            if not project:
                raise ValueError(
                    "no GCP project: pass project=, put it in the URL "
                    "(gcpsecretmanager://PROJECT) or set GOOGLE_CLOUD_PROJECT"
                )
        self.project = project
        self.location = location
        self._parent = f"projects/{project}" + (f"/locations/{location}" if location else "")
        self._replicas = opts.replica_locations
        self._timeout = opts.timeout
        self._page_size = opts.page_size
        self._read_metadata = opts.read_metadata
        self._raw_names = raw_names
        self._current_alias = current_alias
        self._owns_client = client is None
        if client is None:
            try:
                client = self._build_client(credentials, opts.transport, opts.client_options,
                                            opts.endpoint, opts.insecure)
            except auth_exceptions.DefaultCredentialsError as exc:
                raise _no_credentials() from exc
        self._client = client
        rules = (
            NameRules(max_length=MAX_SECRET_ID, segment_pattern=r"[A-Za-z0-9_-]+",
                      description="letters, digits, _ and - (raw GCP secret ids)",
                      check=_raw_name_problem)
            if raw_names
            else NameRules(max_length=MAX_SECRET_ID, check=_mapped_length_problem)
        )
        self.capabilities = Capabilities(
            binary=True,
            versions=True,
            labels=True,
            max_value_bytes=MAX_VALUE_BYTES,
            name_rules=rules,
            version_probe=True,
            batch_get=0,
            idempotent_put=False,
            check_and_set=current_alias is not None,
            staging=current_alias is not None,
        )

    def _build_client(
        self,
        credentials: Any,
        transport: Any,
        client_options: ClientOptions | Mapping[str, Any] | None,
        endpoint: str | None,
        insecure: bool,
    ) -> SecretManagerServiceClient:
        if isinstance(client_options, Mapping):
            options = ClientOptions(**client_options)
        else:  # a copy: the caller's options stay as they were
            options = copy.copy(client_options) if client_options else ClientOptions()
        if endpoint is not None:
            options.api_endpoint = endpoint
        elif self.location is not None and options.api_endpoint is None:
            options.api_endpoint = f"secretmanager.{self.location}.rep.googleapis.com"
        if insecure:
            if endpoint is None or transport is not None:
                raise ValueError("insecure=True needs endpoint= and no transport=")
            host = endpoint.rsplit(":", 1)[0].strip("[]")
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                raise ValueError("insecure=True is for emulators on a loopback address only")
            transport = SecretManagerServiceGrpcTransport(channel=grpc.insecure_channel(endpoint))
        if transport is not None and not isinstance(transport, str):
            # A transport instance carries its own channel, credentials and endpoint.
            return SecretManagerServiceClient(transport=transport)
        return SecretManagerServiceClient(
            credentials=credentials, transport=transport, client_options=options
        )

    @property
    def options(self) -> GCPSecretManagerOptions:
        """The resolved options (read-only)."""
        return self._options

    @classmethod
    def from_url(cls, url: SplitResult, **keywords: Any) -> GCPSecretManagerBackend:
        """``gcpsecretmanager://[PROJECT][?location=&replica_locations=a,b&endpoint=&insecure=
        &timeout=&page_size=&read_metadata=&raw_names=&current_alias=]``; keyword options win
        over the URL."""
        if url.path not in ("", "/"):
            raise ValueError("gcpsecretmanager:// URLs take no path; use ?location= for a region")
        if "@" in url.netloc:
            raise ValueError(
                "gcpsecretmanager:// URLs name the project as the host and carry no credentials: "
                "pass credentials= instead"
            )
        return cls(options=parse(GCPSecretManagerOptions, keywords=keywords, query=query_of(url),
                                 url={"project": url.netloc} if url.netloc else {}))

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

    # -- reading ---------------------------------------------------------------------------

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        if version is not None and label is not None:
            raise InvalidArgumentError("give a version or a label, not both")
        if version is not None:
            if not _VERSION.fullmatch(version):
                raise VersionNotFoundError("GCP version ids are positive integers")
            spec = version
        elif label is not None:
            if not _valid_alias(label):
                raise VersionNotFoundError("no such alias (not a valid GCP alias name)")
            spec = label
        else:
            spec = None
        if spec is None:
            response = self._access_current(name)
        else:
            try:
                response = self._access(name, spec)
            except api_exceptions.NotFound as exc:
                raise self._version_missing(name, exc) from exc
            except api_exceptions.FailedPrecondition as exc:
                raise VersionNotFoundError("the version is disabled or destroyed") from exc
        value, version_id = self._checked_payload(response)
        labels: frozenset[str] = frozenset([label]) if label is not None else frozenset()
        metadata = _EMPTY
        if self._read_metadata:
            secret = self._get_secret(name)
            labels = frozenset(
                alias for alias, number in secret.version_aliases.items()
                if str(number) == version_id
            ) | labels
            metadata = MappingProxyType({**secret.labels, **secret.annotations})
        return RawSecret(name=name, value=value, version=version_id, labels=labels,
                         metadata=metadata)

    def current_version(self, name: str) -> str:
        # An access call, on purpose: the 90,000/min access quota, not the 600/min read quota.
        return _version_id(self._access_current(name).name)

    def _access_current(self, name: str) -> types.AccessSecretVersionResponse:
        """Access the current version: the current alias in alias mode, else ``latest``."""
        if self._current_alias is not None:
            try:
                return self._access(name, self._current_alias)
            except api_exceptions.NotFound:
                pass  # the alias is not set yet (a secret written by other tools): latest
            except api_exceptions.FailedPrecondition as exc:
                raise VersionNotFoundError("the current version is disabled or destroyed") from exc
        try:
            return self._access(name, "latest")
        except api_exceptions.FailedPrecondition:
            return self._access_newest_enabled(name)

    def _access(self, name: str, spec: str) -> types.AccessSecretVersionResponse:
        return self._client.access_secret_version(
            name=self._version_path(name, spec), retry=None, timeout=self._timeout
        )

    def _access_newest_enabled(self, name: str) -> types.AccessSecretVersionResponse:
        """The latest version is disabled or destroyed: the newest enabled one is current.

        Finding it lists the versions (``secretmanager.versions.list``, which the accessor
        role lacks); without that permission, the current version is simply not readable.
        """
        try:
            listed = self._list_raw_versions(name)
        except api_exceptions.PermissionDenied as exc:
            raise VersionNotFoundError(
                "the latest version is disabled or destroyed (listing the versions to find an "
                "enabled one was denied)"
            ) from exc
        enabled = [v for v in listed if v.state == types.SecretVersion.State.ENABLED]
        if not enabled:
            raise VersionNotFoundError("the secret has no enabled version")
        newest = max(enabled, key=lambda v: int(v.name.rsplit("/", 1)[-1]))
        return self._access(name, newest.name.rsplit("/", 1)[-1])

    def _checked_payload(
        self, response: types.AccessSecretVersionResponse
    ) -> tuple[str | bytes, str]:
        payload = response.payload
        data = bytes(payload.data)
        if "data_crc32c" in payload and crc32c(data) != payload.data_crc32c:
            raise IntegrityError(
                "the payload failed its CRC32C check; the value was not returned"
            )
        version_id = str(response.name.rsplit("/", 1)[-1])
        try:
            return data.decode("utf-8"), version_id
        except UnicodeDecodeError:
            return data, version_id

    def _version_missing(self, name: str, exc: Exception) -> Exception:
        """A version or alias was not found: tell "no such secret" from "no such version"."""
        try:
            self._get_secret(name)
        except api_exceptions.NotFound as missing:
            return missing
        except api_exceptions.PermissionDenied:
            pass  # an accessor-only identity can't read the secret: assume it exists
        return VersionNotFoundError("no such version or alias")

    def _get_secret(self, name: str) -> types.Secret:
        return self._client.get_secret(
            name=self._secret_path(name), retry=None, timeout=self._timeout
        )

    def _list_raw_versions(self, name: str) -> list[types.SecretVersion]:
        request = types.ListSecretVersionsRequest(
            parent=self._secret_path(name), page_size=self._page_size
        )
        return list(
            self._client.list_secret_versions(request=request, retry=None, timeout=self._timeout)
        )

    def list_names(self, prefix: str = "") -> Iterator[str]:
        request = types.ListSecretsRequest(parent=self._parent, page_size=self._page_size)
        pager = self._client.list_secrets(request=request, retry=None, timeout=self._timeout)
        names = []
        for secret in pager:
            name = self._portable(secret.name)
            if name is not None and name.startswith(prefix):
                names.append(name)
        return iter(names)

    def list_versions(self, name: str) -> list[VersionInfo]:
        raw = self._list_raw_versions(name)
        if not raw:  # a secret with no version does not exist for the portable model
            raise SecretNotFoundError("the secret has no versions")
        aliases: dict[str, set[str]] = {}
        for alias, number in self._get_secret(name).version_aliases.items():
            aliases.setdefault(str(number), set()).add(alias)
        infos = []
        for version in raw:
            version_id = str(version.name.rsplit("/", 1)[-1])
            created = version.create_time if "create_time" in version else None
            infos.append(
                VersionInfo(
                    version=version_id,
                    labels=frozenset(aliases.get(version_id, ())),
                    created_at=_plain_datetime(created),
                    state=_STATES.get(version.state, "unknown"),
                )
            )
        return sorted(infos, key=lambda v: int(v.version))

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
        # request_token: the service has no idempotency token (capabilities.idempotent_put is
        # False), so the store never retries a plain put.
        for label in labels:
            if not _valid_alias(label):
                raise InvalidArgumentError(
                    f"invalid GCP version alias {label!r}: a letter, then letters, digits, "
                    "_ or -, up to 63 characters; not 'latest' or 'new'"
                )
        for key in metadata or {}:
            if not _ANNOTATION_KEY.fullmatch(key):
                raise InvalidArgumentError(
                    f"invalid GCP annotation key {key!r}: letters, digits, . _ -, up to 63 "
                    "characters, starting and ending with a letter or digit"
                )
        data = value.encode("utf-8") if isinstance(value, str) else value
        if self._current_alias is not None:
            return self._put_alias_mode(name, data, expected_version, create_only, metadata,
                                        labels)
        # Default mode has no conditional write (capabilities.check_and_set is False): the store
        # checks expected_version / create_only with a read first and never passes them here.
        if metadata:
            self._merge_annotations(name, metadata)
        version = self._add_or_create(name, data, metadata, guarded=False)
        version_id = _version_id(version.name)
        if labels:
            self._update_aliases(name, {label: version_id for label in labels})
        return _written(version, labels)

    def _put_alias_mode(
        self, name: str, data: bytes, expected_version: str | None, create_only: bool,
        metadata: Mapping[str, str] | None, labels: Sequence[str],
    ) -> VersionInfo:
        """Write a version, then move the current alias onto it.

        A guarded write (``expected_version`` or ``create_only``) moves the alias only if it
        still names the version it named before the write (checked and moved under the
        secret's etag): if a concurrent writer moved it first, ours is refused and the version
        we wrote is disabled. Check-and-set is atomic.
        """
        alias = self._current_alias
        assert alias is not None
        annotated = False
        if create_only:
            annotated = self._create(name, metadata)
            if not annotated and self._has_versions(name):
                raise ConflictError("the secret already exists")
        guarded = expected_version is not None or create_only
        seen: types.Secret | None = None
        if guarded:
            try:
                seen = self._get_secret(name)
            except api_exceptions.NotFound as exc:
                raise ConflictError("check-and-set failed: the secret does not exist") from exc
            current = self._current_of(name, seen)
            if create_only and current is not None:
                raise ConflictError("the secret already exists")
            if expected_version is not None and current != expected_version:
                raise ConflictError("check-and-set failed: the current version changed")
        version = self._add_or_create(name, data, None if annotated else metadata,
                                      guarded=expected_version is not None)
        version_id = _version_id(version.name)
        moves: dict[str, str | None] = {label: version_id for label in labels}
        moves[alias] = version_id
        extra = None if annotated else metadata
        if seen is None:
            self._update_aliases(name, moves, metadata=extra)
        else:
            expected_alias = seen.version_aliases.get(alias)
            try:
                self._update_aliases(name, moves, metadata=extra,
                                     alias_must_be=(alias, expected_alias))
            except ConflictError:
                self._disable_quietly(name, version_id)
                raise
        return _written(version, [*labels, alias])

    def _current_of(self, name: str, secret: types.Secret) -> str | None:
        """The current version in alias mode: the alias, or (not set yet) the latest."""
        assert self._current_alias is not None
        target = secret.version_aliases.get(self._current_alias)
        if target is not None:
            return str(target)
        try:
            return self._latest_version(name)
        except (api_exceptions.NotFound, SecretNotFoundError):
            return None

    def _latest_version(self, name: str) -> str:
        try:
            response = self._access(name, "latest")
        except api_exceptions.FailedPrecondition:
            response = self._access_newest_enabled(name)
        return _version_id(response.name)

    def _add_or_create(
        self, name: str, data: bytes, metadata: Mapping[str, str] | None, *, guarded: bool
    ) -> types.SecretVersion:
        try:
            return self._add_version(name, data)
        except api_exceptions.NotFound:
            if guarded:
                raise ConflictError("check-and-set failed: the secret was deleted") from None
            if not self._create(name, metadata) and metadata:
                self._merge_annotations(name, metadata)  # created by someone else meanwhile
            return self._add_version(name, data)

    def _disable_quietly(self, name: str, version: str) -> None:
        """Take a version that lost a check-and-set race out of reach; best effort."""
        # If this fails, nothing reads the version anyway: the current alias never names it.
        with contextlib.suppress(api_exceptions.GoogleAPICallError):
            self._client.disable_secret_version(
                name=self._version_path(name, version), retry=None, timeout=self._timeout
            )

    def _add_version(self, name: str, data: bytes) -> types.SecretVersion:
        payload = types.SecretPayload(data=data, data_crc32c=crc32c(data))
        return self._client.add_secret_version(
            parent=self._secret_path(name), payload=payload, retry=None, timeout=self._timeout
        )

    def _create(self, name: str, metadata: Mapping[str, str] | None) -> bool:
        """Create the secret (with ``metadata`` as annotations); False if it already exists."""
        secret = types.Secret(annotations=dict(metadata or {}))
        if self.location is None:
            if self._replicas:
                secret.replication = types.Replication(
                    user_managed=types.Replication.UserManaged(
                        replicas=[
                            types.Replication.UserManaged.Replica(location=loc)
                            for loc in self._replicas
                        ]
                    )
                )
            else:
                secret.replication = types.Replication(automatic=types.Replication.Automatic())
        try:
            self._client.create_secret(
                parent=self._parent, secret_id=self._secret_id(name), secret=secret,
                retry=None, timeout=self._timeout,
            )
        except api_exceptions.AlreadyExists:
            return False
        return True

    def _has_versions(self, name: str) -> bool:
        request = types.ListSecretVersionsRequest(parent=self._secret_path(name), page_size=1)
        response = self._client.list_secret_versions(
            request=request, retry=None, timeout=self._timeout
        )
        return bool(next(iter(response.pages)).versions)

    def _update_secret(
        self,
        name: str,
        paths: Sequence[str],
        change: Callable[[types.Secret], bool],
    ) -> bool:
        """Read-modify-write map fields of the secret under its etag.

        ``change`` edits the secret just read (and raises ConflictError when what it relies on
        is not so); the update carries that read's etag, so a concurrent update in between
        makes it fail (ABORTED), and ``change`` is applied again to a fresh read. That makes
        the check in ``change`` and the update atomic. This is optimistic concurrency on our
        own update, not a retry of a failed call.

        :return: whether an update was needed.
        """
        for attempt in range(3):
            secret = self._get_secret(name)
            if not change(secret):
                return False
            update = types.Secret(name=secret.name, etag=secret.etag)
            for path in paths:
                setattr(update, path, dict(getattr(secret, path)))
            try:
                self._client.update_secret(
                    secret=update, update_mask=field_mask_pb2.FieldMask(paths=list(paths)),
                    retry=None, timeout=self._timeout,
                )
            except api_exceptions.Aborted:
                if attempt == 2:
                    raise
                continue
            return True
        return False  # pragma: no cover - the loop returns or raises

    def _merge_annotations(self, name: str, metadata: Mapping[str, str]) -> None:
        def change(secret: types.Secret) -> bool:
            if all(secret.annotations.get(k) == v for k, v in metadata.items()):
                return False
            secret.annotations.update(metadata)
            return True

        # NotFound: a new secret, which put() creates with its annotations.
        with contextlib.suppress(api_exceptions.NotFound):
            self._update_secret(name, ["annotations"], change)

    def _update_aliases(
        self,
        name: str,
        moves: Mapping[str, str | None],
        *,
        metadata: Mapping[str, str] | None = None,
        alias_must_be: tuple[str, int | None] | None = None,
    ) -> None:
        """Move aliases (``None`` removes one), and merge ``metadata`` in the same update.

        :param alias_must_be: ``(alias, version)``: refuse (ConflictError) unless the alias
            still points at that version (``None``: is unset) when the update is applied.
        """

        def change(secret: types.Secret) -> bool:
            aliases = secret.version_aliases
            if alias_must_be is not None:
                alias, target = alias_must_be
                if aliases.get(alias) != target:
                    raise ConflictError("check-and-set failed: the current version changed")
            before = dict(aliases)
            for alias, version in moves.items():
                if version is None:
                    aliases.pop(alias, None)
                else:
                    aliases[alias] = int(version)
            changed = dict(aliases) != before
            if metadata and any(secret.annotations.get(k) != v for k, v in metadata.items()):
                secret.annotations.update(metadata)
                changed = True
            return changed

        paths = ["version_aliases", "annotations"] if metadata else ["version_aliases"]
        self._update_secret(name, paths, change)

    def set_label(self, name: str, label: str, version: str | None) -> None:
        if not _valid_alias(label):
            raise InvalidArgumentError(f"invalid GCP version alias {label!r}")
        if version is not None:
            if not _VERSION.fullmatch(version):
                raise VersionNotFoundError("GCP version ids are positive integers")
            try:
                self._client.get_secret_version(
                    name=self._version_path(name, version), retry=None, timeout=self._timeout
                )
            except api_exceptions.NotFound as exc:
                raise self._version_missing(name, exc) from exc
        self._update_aliases(name, {label: version})

    # -- staged rotation (alias mode) ------------------------------------------------------

    def stage(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_current: str | None,
        request_token: str | None = None,
    ) -> VersionInfo:
        """Write a pending version: readers of the current alias don't see it until promoted."""
        alias = self._current_alias
        if alias is None:
            return super().stage(name, value, expected_current=expected_current,
                                 request_token=request_token)
        secret = self._get_secret(name)
        current = self._current_of(name, secret)
        if current != expected_current:
            raise ConflictError("the current version changed before staging")
        if current is not None and secret.version_aliases.get(alias) is None:
            # Pin the current version first, or the pending one would be "latest" and current.
            self._update_aliases(name, {alias: current}, alias_must_be=(alias, None))
        data = value.encode("utf-8") if isinstance(value, str) else value
        version = self._add_version(name, data)
        return _written(version, ())

    def promote(self, name: str, version: str, *, expected_current: str | None) -> None:
        """Move the current alias to the staged ``version``, from ``expected_current`` only."""
        alias = self._current_alias
        if alias is None:
            super().promote(name, version, expected_current=expected_current)
            return
        expected = int(expected_current) if expected_current is not None else None
        self._update_aliases(name, {alias: version}, alias_must_be=(alias, expected))

    def discard(self, name: str, version: str) -> None:
        """Disable the staged ``version``: it never becomes current (and can't be read)."""
        if self._current_alias is None:
            super().discard(name, version)
            return
        self._client.disable_secret_version(
            name=self._version_path(name, version), retry=None, timeout=self._timeout
        )

    def delete(self, name: str, *, purge: bool = False) -> None:
        # GCP deletes at once, with every version: there is no recovery window to purge.
        self._client.delete_secret(
            name=self._secret_path(name), retry=None, timeout=self._timeout
        )

    # -- version states (GCP specific) -----------------------------------------------------

    @extra_operation(writes=True)
    def disable_version(self, name: str, version: str, *, etag: str | None = None) -> VersionInfo:
        """Disable ``version`` of ``name``: it can't be read until enabled again.

        The store's cache still holds what it read: call ``store.refresh(name)`` afterwards.

        :param etag: only if the version's etag is still this one.
        :raises HeliumError: the service refused (not found, permission denied, ...).
        """
        return self._change_state(self._client.disable_secret_version, name, version, etag)

    @extra_operation(writes=True)
    def enable_version(self, name: str, version: str, *, etag: str | None = None) -> VersionInfo:
        """Enable a disabled ``version`` of ``name`` again.

        :param etag: only if the version's etag is still this one.
        :raises HeliumError: the service refused (a destroyed version can't be enabled, ...).
        """
        return self._change_state(self._client.enable_secret_version, name, version, etag)

    @extra_operation(writes=True)
    def destroy_version(self, name: str, version: str, *, etag: str | None = None) -> VersionInfo:
        """Destroy ``version`` of ``name``: its value is erased for good.

        :param etag: only if the version's etag is still this one.
        :raises HeliumError: the service refused.
        """
        return self._change_state(self._client.destroy_secret_version, name, version, etag)

    def _change_state(
        self, method: Callable[..., types.SecretVersion], name: str, version: str,
        etag: str | None,
    ) -> VersionInfo:
        # Called by applications directly, not through the store: names are checked and errors
        # are mapped here.
        try:
            problem = self.capabilities.name_rules.problem(name)
            if problem is not None:
                raise InvalidNameError(f"invalid name: {problem}")
            if not _VERSION.fullmatch(version):
                raise VersionNotFoundError("GCP version ids are positive integers")
            request = {"name": self._version_path(name, version)}
            if etag is not None:
                request["etag"] = etag
            try:
                result = method(request=request, retry=None, timeout=self._timeout)
            except api_exceptions.NotFound as exc:
                raise self._version_missing(name, exc) from exc
        except HeliumError as exc:
            exc.backend, exc.name = self.name, name
            raise
        except Exception as exc:
            verdict = self.classify(exc)
            if verdict is None:
                raise
            raise error_for_code(verdict.code)(
                verdict.message or verdict.code.value, backend=self.name, name=name,
                version=version, transient=verdict.transient, retry_after=verdict.retry_after,
            ) from exc
        return VersionInfo(
            version=version,
            created_at=_plain_datetime(result.create_time if "create_time" in result else None),
            state=_STATES.get(result.state, "unknown"),
        )

    # -- errors and lifecycle --------------------------------------------------------------

    def classify(self, exc: BaseException) -> Classified | None:
        if isinstance(exc, api_exceptions.RetryError):
            return Classified(ErrorCode.UNAVAILABLE, "GCP Secret Manager: retries exhausted")
        if isinstance(exc, api_exceptions.GoogleAPICallError):
            status = exc.grpc_status_code
            if status is None:
                return _classify_http(exc)
            code, transient = _CODES.get(status, (ErrorCode.UNKNOWN, None))
            reason = _reason(exc)
            message = f"GCP Secret Manager: {status.name}" + (f" ({reason})" if reason else "")
            retry_after = _retry_delay(exc) if code is ErrorCode.THROTTLED else None
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
        return None

    def close(self) -> None:
        if self._owns_client:
            transport: Any = self._client.transport
            transport.close()


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
    if code in (ErrorCode.THROTTLED, ErrorCode.UNAVAILABLE):
        retry_after = _retry_delay(exc)
        if retry_after is None:
            retry_after = retry_after_from_headers(getattr(exc.response, "headers", None))
    return Classified(code, f"GCP Secret Manager: HTTP {status}", retry_after=retry_after)


def _version_id(resource_name: str) -> str:
    return str(resource_name.rsplit("/", 1)[-1])


def _written(version: types.SecretVersion, labels: Sequence[str]) -> VersionInfo:
    return VersionInfo(
        version=_version_id(version.name),
        labels=frozenset(labels),
        created_at=_plain_datetime(version.create_time if "create_time" in version else None),
        state="enabled",
    )


def _valid_alias(label: str) -> bool:
    return bool(_ALIAS.fullmatch(label)) and label.lower() not in ("latest", "new")


def _plain_datetime(value: Any) -> datetime | None:
    """proto-plus returns a ``DatetimeWithNanoseconds``; hand out a plain ``datetime``."""
    if value is None:
        return None
    return datetime.fromtimestamp(value.timestamp(), tz=value.tzinfo)
