"""A wire-level emulator of GCP Secret Manager (``google.cloud.secretmanager.v1``), over gRPC.

Written from Google's published API reference (the ``SecretManagerService`` RPCs and the
``Secret`` / ``SecretVersion`` / ``SecretPayload`` resources) with the SDK's own proto-plus message
types doing the (de)serialisation, so the real ``SecretManagerServiceClient`` talks to it through
an insecure channel on loopback (:meth:`SecretManagerEmulator.client`), and so does the real
``SecretManagerServiceAsyncClient`` over ``grpc.aio`` (:meth:`SecretManagerEmulator.async_client`).
What it implements:

* ``CreateSecret``, ``GetSecret``, ``UpdateSecret`` (``labels``, ``annotations``,
  ``version_aliases`` with an update mask and an optional etag), ``DeleteSecret`` (optional
  etag), ``ListSecrets`` and ``ListSecretVersions`` with ``page_size`` / ``page_token`` paging
  (the server caps a page at :attr:`SecretManagerEmulator.max_page_size`), ``AddSecretVersion``,
  ``GetSecretVersion``, ``AccessSecretVersion``, ``DisableSecretVersion``,
  ``EnableSecretVersion`` and ``DestroySecretVersion`` (optional version etags).
* Resource names as the service returns them: with the project *number*, whatever the caller
  used (a project id is given a stable made-up number), global
  (``projects/*/secrets/*``) and regional (``projects/*/locations/*/secrets/*``).
* Versions numbered 1, 2, ... per secret; ``latest`` is the most recently created version
  whatever its state; aliases resolve like version numbers. A version that is not ENABLED can't
  be accessed (FAILED_PRECONDITION, as the service says "is in DISABLED state").
* CRC32C: ``AddSecretVersion`` verifies a client-sent ``data_crc32c`` (INVALID_ARGUMENT on a
  mismatch), computes one otherwise, and ``AccessSecretVersion`` returns it.
* The service's limits and codes: secret ids ``[A-Za-z0-9_-]{1,255}``, payloads up to 64 KiB,
  alias names (a letter first, letters, digits, ``-`` and ``_``, up to 63, not latest/new),
  NOT_FOUND, ALREADY_EXISTS, INVALID_ARGUMENT, FAILED_PRECONDITION, ABORTED (etag mismatch).
* Switches: :meth:`~SecretManagerEmulator.fail_next` (any status code, with a ``RetryInfo``
  delay for RESOURCE_EXHAUSTED; before the call is carried out, or after it when the answer is
  lost), :meth:`~SecretManagerEmulator.set_latency` (a client deadline shorter than it gives
  DEADLINE_EXCEEDED for real), :attr:`~SecretManagerEmulator.corrupt_checksums` (accesses
  return a wrong ``data_crc32c``) and :attr:`~SecretManagerEmulator.calls`.

It keeps everything in memory and is test infrastructure only: no IAM, no CMEK; a secret's
rotation schedule, topics and expiry are kept and returned, but nothing rotates or expires.
"""

from __future__ import annotations

import collections
import re
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import grpc
from google.cloud.secretmanager_v1 import types
from google.cloud.secretmanager_v1.services.secret_manager_service import (
    SecretManagerServiceAsyncClient,
    SecretManagerServiceClient,
)
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcAsyncIOTransport,
    SecretManagerServiceGrpcTransport,
)
from google.iam.v1 import iam_policy_pb2, policy_pb2
from google.protobuf import any_pb2, duration_pb2, empty_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2

__all__ = ["SERVICE", "SecretManagerEmulator", "crc32c"]

SERVICE = "google.cloud.secretmanager.v1.SecretManagerService"
MAX_PAYLOAD = 64 * 1024
_SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}")
_LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
_NAME = re.compile(
    r"projects/(?P<project>[^/]+)(?:/locations/(?P<location>[^/]+))?"
    r"(?:/secrets/(?P<secret>[^/]+)(?:/versions/(?P<version>[^/]+))?)?"
)
_State = types.SecretVersion.State


def crc32c(data: bytes) -> int:
    """CRC32C (Castagnoli), computed independently of the backend's implementation."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


@dataclass(frozen=True)
class _RichStatus(grpc.Status):  # type: ignore[misc]
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple[tuple[str, bytes], ...]


class _Abort(Exception):
    """Raised inside a handler to end the call with a status."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class _Version:
    number: int
    data: bytes
    crc: int
    client_checksum: bool
    created: datetime
    state: int = _State.ENABLED
    destroyed: datetime | None = None
    etag: int = 1


@dataclass
class _Secret:
    resource: types.Secret
    versions: list[_Version] = field(default_factory=list)
    etag: int = 1
    #: The secret's IAM policy (``SetIamPolicy``); none set is an empty policy.
    policy: policy_pb2.Policy = field(default_factory=policy_pb2.Policy)


@dataclass
class _Fault:
    code: grpc.StatusCode
    methods: frozenset[str] | None
    retry_delay: float | None
    reason: str | None = None
    after: bool = False  # the call is carried out first; only its answer is lost


class SecretManagerEmulator:
    """An in-memory Secret Manager on ``127.0.0.1:<free port>``; use it as a context manager.

    :param max_page_size: the largest page a List call returns, whatever the client asks.
    """

    def __init__(self, *, max_page_size: int = 100) -> None:
        self.max_page_size = max_page_size
        #: When true, AccessSecretVersion returns a wrong ``data_crc32c``.
        self.corrupt_checksums = False
        #: Calls received per RPC name ("AccessSecretVersion", ...), faults included.
        self.calls: collections.Counter[str] = collections.Counter()
        self._lock = threading.RLock()
        self._secrets: dict[tuple[str, str | None, str], _Secret] = {}
        self._project_numbers: dict[str, str] = {}
        self._faults: collections.deque[_Fault] = collections.deque()
        self._latency = 0.0
        self._latency_methods: frozenset[str] | None = None
        self._stopping = threading.Event()
        self._server: grpc.Server | None = None
        self._channels: list[grpc.Channel] = []
        self.port = 0

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> SecretManagerEmulator:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        server.add_generic_rpc_handlers((self._handler(),))
        self.port = server.add_insecure_port("127.0.0.1:0")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        self._stopping.set()
        for channel in self._channels:
            channel.close()
        if self._server is not None:
            self._server.stop(grace=None).wait(10)
            self._server = None

    def __enter__(self) -> SecretManagerEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def address(self) -> str:
        """``host:port`` to dial."""
        return f"127.0.0.1:{self.port}"

    def channel(self) -> grpc.Channel:
        """A new insecure channel to the emulator, closed when the emulator stops."""
        channel = grpc.insecure_channel(self.address)
        self._channels.append(channel)
        return channel

    def transport(self) -> SecretManagerServiceGrpcTransport:
        """The SDK's own gRPC transport over :meth:`channel`."""
        return SecretManagerServiceGrpcTransport(channel=self.channel())

    def client(self) -> SecretManagerServiceClient:
        """The real ``SecretManagerServiceClient`` talking to the emulator."""
        return SecretManagerServiceClient(transport=self.transport())

    def async_client(self) -> SecretManagerServiceAsyncClient:
        """The real ``SecretManagerServiceAsyncClient`` over a ``grpc.aio`` channel to the
        emulator (the server serves both kinds of client alike). Call it in the event loop
        that uses it (an aio channel belongs to one loop); close its transport there."""
        return SecretManagerServiceAsyncClient(transport=SecretManagerServiceGrpcAsyncIOTransport(
            channel=grpc.aio.insecure_channel(self.address)))

    # -- switches --------------------------------------------------------------------------

    def fail_next(
        self,
        code: grpc.StatusCode,
        count: int = 1,
        *,
        methods: Sequence[str] | None = None,
        retry_delay: float | None = None,
        reason: str | None = None,
        after: bool = False,
    ) -> None:
        """Make the next ``count`` calls (of ``methods``, default all) end with ``code``.

        :param retry_delay: attach a ``google.rpc.RetryInfo`` with this delay, in seconds.
        :param reason: attach a ``google.rpc.ErrorInfo`` with this reason (as Google APIs do,
            e.g. ``IAM_PERMISSION_DENIED``), domain ``secretmanager.googleapis.com``.
        :param after: carry the call out first, then end it with ``code``: a call that took
            effect but whose answer was lost.
        """
        ops = frozenset(methods) if methods is not None else None
        with self._lock:
            self._faults.extend([_Fault(code, ops, retry_delay, reason, after)] * count)

    def clear_faults(self) -> int:
        """Cancel the faults not used yet; return how many there were."""
        with self._lock:
            left = len(self._faults)
            self._faults.clear()
            return left

    def set_latency(self, seconds: float, *, methods: Sequence[str] | None = None) -> None:
        """Delay every call (of ``methods``, default all) by ``seconds`` (0 turns it off)."""
        self._latency = seconds
        self._latency_methods = frozenset(methods) if methods is not None else None

    def reset_switches(self) -> None:
        """Clear faults, latency, corruption and the call counters; the data stays."""
        with self._lock:
            self._faults.clear()
            self._latency = 0.0
            self._latency_methods = None
            self.corrupt_checksums = False
            self.calls.clear()

    def project_number(self, project: str) -> str:
        """The number the emulator reports for ``project`` (an id or a number)."""
        if project.isdigit():
            return project
        with self._lock:
            if project not in self._project_numbers:
                self._project_numbers[project] = str(100000000001 + len(self._project_numbers))
            return self._project_numbers[project]

    def raw_payload(self, name: str) -> bytes:
        """The stored bytes of a version (``projects/.../versions/N``), for tests to inspect."""
        with self._lock:
            return self._resolve_version(name)[1].data

    # -- plumbing --------------------------------------------------------------------------

    def _handler(self) -> grpc.GenericRpcHandler:
        def serialize(message: Any) -> bytes:
            if isinstance(message, Message):  # Empty and the IAM messages: plain protobuf
                return bytes(message.SerializeToString())
            return type(message).serialize(message)  # type: ignore[no-any-return]

        methods: dict[str, tuple[Any, Callable[[Any], Any]]] = {
            "CreateSecret": (types.CreateSecretRequest, self._create_secret),
            "GetSecret": (types.GetSecretRequest, self._get_secret),
            "UpdateSecret": (types.UpdateSecretRequest, self._update_secret),
            "DeleteSecret": (types.DeleteSecretRequest, self._delete_secret),
            "ListSecrets": (types.ListSecretsRequest, self._list_secrets),
            "AddSecretVersion": (types.AddSecretVersionRequest, self._add_version),
            "GetSecretVersion": (types.GetSecretVersionRequest, self._get_version),
            "AccessSecretVersion": (types.AccessSecretVersionRequest, self._access_version),
            "ListSecretVersions": (types.ListSecretVersionsRequest, self._list_versions),
            "DisableSecretVersion": (
                types.DisableSecretVersionRequest,
                lambda r: self._set_state(r, _State.DISABLED),
            ),
            "EnableSecretVersion": (
                types.EnableSecretVersionRequest,
                lambda r: self._set_state(r, _State.ENABLED),
            ),
            "DestroySecretVersion": (
                types.DestroySecretVersionRequest,
                lambda r: self._set_state(r, _State.DESTROYED),
            ),
            # The IAM methods every Google API resource has (google.iam.v1.IAMPolicy).
            "GetIamPolicy": (iam_policy_pb2.GetIamPolicyRequest, self._get_iam_policy),
            "SetIamPolicy": (iam_policy_pb2.SetIamPolicyRequest, self._set_iam_policy),
        }
        handlers = {
            method: grpc.unary_unary_rpc_method_handler(
                self._wrap(method, fn),
                request_deserializer=getattr(request_type, "deserialize", None)
                or request_type.FromString,
                response_serializer=serialize,
            )
            for method, (request_type, fn) in methods.items()
        }
        return grpc.method_handlers_generic_handler(SERVICE, handlers)

    def _wrap(self, method: str, fn: Callable[[Any], Any]) -> Callable[[Any, Any], Any]:
        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            with self._lock:
                self.calls[method] += 1
                fault = self._take_fault(method)
            latency = self._latency
            if latency and (self._latency_methods is None or method in self._latency_methods):
                self._stopping.wait(latency)
            if fault is not None and not fault.after:
                self._abort_with(context, fault)
            try:
                with self._lock:
                    answer = fn(request)
            except _Abort as exc:
                context.abort(exc.code, exc.message)
            if fault is not None:  # done; the answer is lost
                self._abort_with(context, fault)
            return answer

        return handle

    def _take_fault(self, method: str) -> _Fault | None:
        for index, fault in enumerate(self._faults):
            if fault.methods is None or method in fault.methods:
                del self._faults[index]
                return fault
        return None

    @staticmethod
    def _abort_with(context: grpc.ServicerContext, fault: _Fault) -> None:
        message = f"injected {fault.code.name}"
        delay = fault.retry_delay
        if delay is None and fault.reason is None:
            context.abort(fault.code, message)
            return
        details = []
        if delay is not None:
            retry = any_pb2.Any()
            retry.Pack(error_details_pb2.RetryInfo(
                retry_delay=duration_pb2.Duration(seconds=int(delay),
                                                  nanos=int((delay % 1) * 1e9))
            ))
            details.append(retry)
        if fault.reason is not None:
            info = any_pb2.Any()
            info.Pack(error_details_pb2.ErrorInfo(
                reason=fault.reason, domain="secretmanager.googleapis.com"
            ))
            details.append(info)
        status = status_pb2.Status(
            code=getattr(code_pb2, fault.code.name), message=message, details=details
        )
        # What grpc_status.rpc_status.to_status does: the rich status rides in the trailers.
        context.abort_with_status(
            _RichStatus(fault.code, message, (("grpc-status-details-bin",
                                               status.SerializeToString()),))
        )

    # -- names -----------------------------------------------------------------------------

    def _parse(self, name: str, *, want: str) -> tuple[str, str | None, str | None, str | None]:
        match = _NAME.fullmatch(name)
        if match is None or (want == "secret" and (not match["secret"] or match["version"])) or (
            want == "version" and not match["version"]
        ) or (want == "parent" and match["secret"]):
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, f"malformed {want} name")
        return (self.project_number(match["project"]), match["location"], match["secret"],
                match["version"])

    @staticmethod
    def _prefix(number: str, location: str | None) -> str:
        return f"projects/{number}" + (f"/locations/{location}" if location else "")

    def _lookup(self, name: str) -> _Secret:
        number, location, secret_id, _ = self._parse(name, want="secret")
        assert secret_id is not None
        secret = self._secrets.get((number, location, secret_id))
        if secret is None:
            raise _Abort(grpc.StatusCode.NOT_FOUND, "Secret not found")
        return secret

    def _resolve_version(self, name: str) -> tuple[_Secret, _Version]:
        number, location, secret_id, spec = self._parse(name, want="version")
        assert secret_id is not None and spec is not None
        secret = self._secrets.get((number, location, secret_id))
        if secret is None:
            raise _Abort(grpc.StatusCode.NOT_FOUND, "Secret not found or has no versions")
        if spec == "latest":
            if not secret.versions:
                raise _Abort(grpc.StatusCode.NOT_FOUND, "Secret not found or has no versions")
            return secret, secret.versions[-1]
        if spec.isdigit():
            wanted: int | None = int(spec)
        else:
            wanted = secret.resource.version_aliases.get(spec)
        version = next((v for v in secret.versions if v.number == wanted), None)
        if version is None:
            raise _Abort(grpc.StatusCode.NOT_FOUND, "Secret Version not found")
        return secret, version

    # -- resources -------------------------------------------------------------------------

    def _secret_out(self, secret: _Secret) -> types.Secret:
        out = types.Secret(secret.resource)
        out.etag = f'"{secret.etag:016x}"'
        return out

    @staticmethod
    def _version_out(secret: _Secret, version: _Version) -> types.SecretVersion:
        out = types.SecretVersion(
            name=f"{secret.resource.name}/versions/{version.number}",
            create_time=version.created,
            state=version.state,
            etag=f'"{version.etag:016x}"',
            client_specified_payload_checksum=version.client_checksum,
        )
        if version.destroyed is not None:
            out.destroy_time = version.destroyed
        return out

    @staticmethod
    def _check_labels(labels: Any) -> None:
        if len(labels) > 64:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "too many labels")
        for key, value in labels.items():
            if not _LABEL_KEY.fullmatch(key) or not _LABEL_VALUE.fullmatch(value):
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid label")

    @staticmethod
    def _check_annotations(annotations: Any) -> None:
        size = sum(len(k.encode()) + len(v.encode()) for k, v in annotations.items())
        if size > 16 * 1024:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "annotations exceed 16 KiB")

    def _check_aliases(self, secret: _Secret, aliases: Any) -> None:
        numbers = {v.number for v in secret.versions}
        for alias, number in aliases.items():
            if not _ALIAS.fullmatch(alias) or alias.lower() in ("latest", "new"):
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid version alias")
            if number not in numbers:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "alias to a missing version")

    # -- the RPCs --------------------------------------------------------------------------

    def _create_secret(self, request: types.CreateSecretRequest) -> types.Secret:
        number, location, _, _ = self._parse(request.parent, want="parent")
        if not _SECRET_ID.fullmatch(request.secret_id):
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid secret id")
        given = request.secret
        has_replication = "replication" in given
        if location is None:
            replication = given.replication
            automatic = "automatic" in replication
            user = "user_managed" in replication and len(replication.user_managed.replicas) > 0
            if not (automatic or user):
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "replication is required")
        elif has_replication:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "regional secrets take no replication")
        if given.version_aliases:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "a new secret has no versions to alias")
        self._check_labels(given.labels)
        self._check_annotations(given.annotations)
        key = (number, location, request.secret_id)
        if key in self._secrets:
            raise _Abort(grpc.StatusCode.ALREADY_EXISTS, "Secret already exists")
        resource = types.Secret(
            name=f"{self._prefix(number, location)}/secrets/{request.secret_id}",
            create_time=datetime.now(timezone.utc),
            labels=dict(given.labels),
            annotations=dict(given.annotations),
        )
        if has_replication:
            resource.replication = given.replication
        self._lifecycle_in(given, resource)
        secret = _Secret(resource)
        self._secrets[key] = secret
        return self._secret_out(secret)

    @staticmethod
    def _lifecycle_in(given: types.Secret, resource: types.Secret) -> None:
        """A new secret's expiry (``expire_time`` or ``ttl``) and rotation schedule, kept and
        returned as the API reference says; nothing expires or rotates here."""
        if "rotation" in given:
            if not given.topics:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "rotation requires topics")
            if "rotation_period" in given.rotation and "next_rotation_time" not in given.rotation:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                             "rotation_period requires next_rotation_time")
            resource.rotation = given.rotation
            resource.topics = list(given.topics)
        if "expire_time" in given:
            resource.expire_time = given.expire_time
        elif "ttl" in given:
            resource.expire_time = datetime.now(timezone.utc) + given.ttl

    def _get_secret(self, request: types.GetSecretRequest) -> types.Secret:
        return self._secret_out(self._lookup(request.name))

    def _update_secret(self, request: types.UpdateSecretRequest) -> types.Secret:
        secret = self._lookup(request.secret.name)
        if request.secret.etag and request.secret.etag != self._secret_out(secret).etag:
            raise _Abort(grpc.StatusCode.ABORTED, "etag mismatch")
        paths = list(request.update_mask.paths)
        if not paths:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "update_mask is required")
        for path in paths:
            if path == "labels":
                self._check_labels(request.secret.labels)
            elif path == "annotations":
                self._check_annotations(request.secret.annotations)
            elif path == "version_aliases":
                self._check_aliases(secret, request.secret.version_aliases)
            else:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "unsupported update_mask path")
        for path in paths:
            setattr(secret.resource, path, dict(getattr(request.secret, path)))
        secret.etag += 1
        return self._secret_out(secret)

    def _delete_secret(self, request: types.DeleteSecretRequest) -> empty_pb2.Empty:
        secret = self._lookup(request.name)
        if request.etag and request.etag != self._secret_out(secret).etag:
            raise _Abort(grpc.StatusCode.ABORTED, "etag mismatch")
        number, location, secret_id, _ = self._parse(request.name, want="secret")
        assert secret_id is not None
        del self._secrets[(number, location, secret_id)]
        return empty_pb2.Empty()

    def _page(self, items: list[Any], size: int, token: str) -> tuple[list[Any], str]:
        try:
            start = int(token) if token else 0
        except ValueError:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid page token") from None
        if size < 0 or start < 0 or start > len(items):
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "invalid page size or token")
        size = min(size or self.max_page_size, self.max_page_size)
        end = start + size
        return items[start:end], (str(end) if end < len(items) else "")

    def _list_secrets(self, request: types.ListSecretsRequest) -> types.ListSecretsResponse:
        number, location, _, _ = self._parse(request.parent, want="parent")
        mine = [s for (n, loc, _), s in self._secrets.items() if (n, loc) == (number, location)]
        page, token = self._page(mine, request.page_size, request.page_token)
        return types.ListSecretsResponse(
            secrets=[self._secret_out(s) for s in page],
            next_page_token=token,
            total_size=len(mine),
        )

    def _add_version(self, request: types.AddSecretVersionRequest) -> types.SecretVersion:
        secret = self._lookup(request.parent)
        payload = request.payload
        if len(payload.data) > MAX_PAYLOAD:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "payload larger than 64 KiB")
        actual = crc32c(payload.data)
        given = "data_crc32c" in payload
        if given and payload.data_crc32c != actual:
            raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "Checksum mismatch")
        number = secret.versions[-1].number + 1 if secret.versions else 1
        version = _Version(number, payload.data, actual, given, datetime.now(timezone.utc))
        secret.versions.append(version)
        return self._version_out(secret, version)

    def _get_version(self, request: types.GetSecretVersionRequest) -> types.SecretVersion:
        return self._version_out(*self._resolve_version(request.name))

    def _access_version(
        self, request: types.AccessSecretVersionRequest
    ) -> types.AccessSecretVersionResponse:
        secret, version = self._resolve_version(request.name)
        if version.state != _State.ENABLED:
            state = _State(version.state).name
            raise _Abort(grpc.StatusCode.FAILED_PRECONDITION, f"Secret Version is in {state} state")
        crc = version.crc ^ 0x5A5A if self.corrupt_checksums else version.crc
        return types.AccessSecretVersionResponse(
            name=f"{secret.resource.name}/versions/{version.number}",
            payload=types.SecretPayload(data=version.data, data_crc32c=crc),
        )

    def _list_versions(
        self, request: types.ListSecretVersionsRequest
    ) -> types.ListSecretVersionsResponse:
        secret = self._lookup(request.parent)
        newest_first = list(reversed(secret.versions))
        if request.filter:
            match = re.fullmatch(r"state:(ENABLED|DISABLED|DESTROYED)", request.filter.strip())
            if match is None:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT, "unsupported filter")
            wanted = int(types.SecretVersion.State.__members__[match.group(1)])
            newest_first = [v for v in newest_first if v.state == wanted]
        page, token = self._page(newest_first, request.page_size, request.page_token)
        return types.ListSecretVersionsResponse(
            versions=[self._version_out(secret, v) for v in page],
            next_page_token=token,
            total_size=len(newest_first),
        )

    def _set_state(self, request: Any, state: int) -> types.SecretVersion:
        secret, version = self._resolve_version(request.name)
        if request.etag and request.etag != f'"{version.etag:016x}"':
            raise _Abort(grpc.StatusCode.ABORTED, "etag mismatch")
        if version.state == _State.DESTROYED:
            raise _Abort(grpc.StatusCode.FAILED_PRECONDITION, "Secret Version is destroyed")
        version.state = state
        version.etag += 1
        if state == _State.DESTROYED:
            version.data = b""
            version.destroyed = datetime.now(timezone.utc)
        return self._version_out(secret, version)

    def versions_of(self, name: str) -> list[tuple[int, str]]:
        """``(number, state name)`` of every version of the secret ``name``, oldest first."""
        with self._lock:
            return [(v.number, _State(v.state).name) for v in self._lookup(name).versions]

    def _get_iam_policy(self, request: iam_policy_pb2.GetIamPolicyRequest) -> policy_pb2.Policy:
        policy = policy_pb2.Policy()
        policy.CopyFrom(self._lookup(request.resource).policy)
        return policy

    def _set_iam_policy(self, request: iam_policy_pb2.SetIamPolicyRequest) -> policy_pb2.Policy:
        secret = self._lookup(request.resource)
        current = secret.policy.etag
        if request.policy.etag and request.policy.etag != current:
            raise _Abort(grpc.StatusCode.ABORTED, "etag mismatch")
        for binding in request.policy.bindings:
            if not binding.role or not binding.members:
                raise _Abort(grpc.StatusCode.INVALID_ARGUMENT,
                             "a binding needs a role and at least one member")
        policy = policy_pb2.Policy()
        policy.CopyFrom(request.policy)
        policy.version = policy.version or 1
        policy.etag = (int.from_bytes(current or b"\0", "big") + 1).to_bytes(8, "big")
        secret.policy = policy
        return policy
