"""``vault://``: HashiCorp Vault and OpenBao key/value secrets, on hvac.

The backend maps portable names to paths of a KV mount (version 2 by default, version 1 on
request), authenticates with a token, AppRole, Kubernetes, JWT or userpass, and keeps its token
alive itself: it renews the token before it expires, logs in again when renewal is no longer
possible (maximum TTL reached, token revoked), and retries a call once after such a re-login.

Value mapping (see docs/backends/vault.md): KV stores a map. A map with the single key
``value`` is that plain text; ``{"value": <base64>, "encoding": "base64"}`` is bytes; any other
map is presented as its JSON text. ``put`` writes ``{"value": text}`` or the base64 form.

Like every backend this one does not retry (the requests adapter is mounted with no retries),
does not cache, and raises hvac's / requests' exceptions, which :meth:`VaultBackend.classify`
maps to portable codes without quoting the server's text.
"""

from __future__ import annotations

import base64
import binascii
import collections
import contextlib
import hashlib
import hmac
import ipaddress
import json
import logging
import math
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import SplitResult, urlsplit

import hvac
import hvac.exceptions
import requests
import requests.adapters

from helium_secrets._options import Options, build, option, parse, query_flag, query_of
from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import (
    BackendBase,
    Capabilities,
    Classified,
    RawSecret,
    extra_operation,
)
from helium_secrets.backends._hints import retry_after_from_headers
from helium_secrets.errors import (
    ConflictError,
    ErrorCode,
    HeliumError,
    InvalidArgumentError,
    SecretNotFoundError,
    UnauthenticatedError,
    UnsupportedError,
    VersionNotFoundError,
    error_for_code,
)

__all__ = [
    "AppRoleAuth",
    "JWTAuth",
    "KubernetesAuth",
    "TokenAuth",
    "UserpassAuth",
    "VaultAuth",
    "VaultBackend",
    "VaultOptions",
]

T = TypeVar("T")

_log = logging.getLogger("helium_secrets.vault")

#: Vault's own request size limit is 32 MiB, but raft storage entries are 1 MiB; base64 for
#: bytes adds a third. 512 KiB keeps every value comfortably inside one storage entry.
DEFAULT_MAX_VALUE_BYTES = 512 * 1024
DEFAULT_PORT = 8200
#: (connect, read) seconds; the read timeout stays well under the store's default deadline.
DEFAULT_TIMEOUT = (5.0, 10.0)
KUBERNETES_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token"
#: Renew a token once this fraction of its TTL has passed (as Vault Agent does).
RENEW_AT_FRACTION = 2 / 3
#: KV v2 custom metadata limits (Vault and OpenBao refuse more): keys per secret, and the
#: UTF-8 bytes of a key and of a value. Keys and values must also be non-empty and printable.
MAX_METADATA_KEYS = 64
MAX_METADATA_KEY_BYTES = 128
MAX_METADATA_VALUE_BYTES = 512
#: How many times in a row other writers may win the race between a plain put's read of the
#: current version and its check-and-set write before the put gives up. Each lost round means
#: another writer's version landed; the threads of one process never race (they queue).
PLAIN_PUT_ROUNDS = 100

_STATUS_OF: dict[type[Exception], int] = {
    hvac.exceptions.InvalidRequest: 400,
    hvac.exceptions.Unauthorized: 401,
    hvac.exceptions.Forbidden: 403,
    hvac.exceptions.InvalidPath: 404,
    hvac.exceptions.PreconditionFailed: 412,
    hvac.exceptions.RateLimitExceeded: 429,
    hvac.exceptions.InternalServerError: 500,
    hvac.exceptions.VaultNotInitialized: 501,
    hvac.exceptions.BadGateway: 502,
    hvac.exceptions.VaultDown: 503,
}
#: A per-process key for KV v1 version ids (content digests that must not reveal the value).
_V1_DIGEST_KEY = secrets.token_bytes(32)
#: A staged value lives at NAME + this suffix. ``~`` is not in any portable name, so the
#: companion path never collides with a secret, and listing leaves it out.
STAGED_SUFFIX = "~staged"
PENDING = "pending"


# -- authentication ------------------------------------------------------------------------


class VaultAuth:
    """How the backend gets a token. Subclasses implement :meth:`login`."""

    #: The auth method's name, used in error messages.
    method: ClassVar[str] = "token"
    #: Whether :meth:`login` can produce a fresh token (a plain token cannot).
    can_login: ClassVar[bool] = True

    def login(self, client: hvac.Client) -> Mapping[str, Any]:
        """Log in and return the response's ``auth`` block (``client_token``, ...)."""
        raise NotImplementedError


def _read_file(path: str | os.PathLike[str], what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        # The path is configuration, not a secret; the content never reaches the message.
        raise UnauthenticatedError(f"cannot read the {what} file {os.fspath(path)!r}: "
                                   f"{exc.strerror}") from None


@dataclass(frozen=True)
class TokenAuth(VaultAuth):
    """A Vault token, given or read from a file (re-read when Vault rejects the old one).

    :param token: the token itself.
    :param token_file: a file holding the token (``~/.vault-token``, a Vault Agent sink).
    """

    method: ClassVar[str] = "token"
    can_login: ClassVar[bool] = False

    token: str | None = field(default=None, repr=False)
    token_file: str | None = None

    def __post_init__(self) -> None:
        if (self.token is None) == (self.token_file is None):
            raise ValueError("TokenAuth takes exactly one of token= and token_file=")

    def current(self) -> str:
        """The token: the given one, or the file's current content."""
        if self.token is not None:
            return self.token
        assert self.token_file is not None
        return _read_file(self.token_file, "token")


@dataclass(frozen=True)
class AppRoleAuth(VaultAuth):
    """AppRole: a role id and a secret id (given, or read from a file at each login).

    :param role_id: the role id.
    :param secret_id: the secret id (omit for roles with ``bind_secret_id=false``).
    :param secret_id_file: a file holding the secret id, re-read at each login.
    :param mount: the auth method's mount path.
    """

    method: ClassVar[str] = "approle"

    role_id: str
    secret_id: str | None = field(default=None, repr=False)
    secret_id_file: str | None = None
    mount: str = "approle"

    def login(self, client: hvac.Client) -> Mapping[str, Any]:
        secret_id = self.secret_id
        if secret_id is None and self.secret_id_file is not None:
            secret_id = _read_file(self.secret_id_file, "AppRole secret id")
        response = client.auth.approle.login(
            self.role_id, secret_id, use_token=False, mount_point=self.mount
        )
        return _auth_block(response)


@dataclass(frozen=True)
class KubernetesAuth(VaultAuth):
    """Kubernetes: the pod's service-account token, read from its file at each login.

    :param role: the Vault role bound to the service account.
    :param jwt_file: the service-account token file.
    :param mount: the auth method's mount path.
    """

    method: ClassVar[str] = "kubernetes"

    role: str
    jwt_file: str = KUBERNETES_TOKEN_FILE
    mount: str = "kubernetes"

    def login(self, client: hvac.Client) -> Mapping[str, Any]:
        jwt = _read_file(self.jwt_file, "service-account token")
        response = client.auth.kubernetes.login(
            self.role, jwt, use_token=False, mount_point=self.mount
        )
        return _auth_block(response)


@dataclass(frozen=True)
class JWTAuth(VaultAuth):
    """JWT/OIDC with a JWT the workload already has (given, or read from a file each login).

    :param role: the Vault role.
    :param jwt: the token itself.
    :param jwt_file: a file holding it (a projected token that is rotated on disk).
    :param mount: the auth method's mount path.
    """

    method: ClassVar[str] = "jwt"

    role: str
    jwt: str | None = field(default=None, repr=False)
    jwt_file: str | None = None
    mount: str = "jwt"

    def __post_init__(self) -> None:
        if (self.jwt is None) == (self.jwt_file is None):
            raise ValueError("JWTAuth takes exactly one of jwt= and jwt_file=")

    def login(self, client: hvac.Client) -> Mapping[str, Any]:
        jwt = self.jwt if self.jwt is not None else _read_file(self.jwt_file or "", "JWT")
        response = client.auth.jwt.jwt_login(self.role, jwt, use_token=False, path=self.mount)
        return _auth_block(response)


@dataclass(frozen=True)
class UserpassAuth(VaultAuth):
    """Username and password (given, or the password read from a file at each login).

    :param username: the user.
    :param password: the password.
    :param password_file: a file holding the password.
    :param mount: the auth method's mount path.
    """

    method: ClassVar[str] = "userpass"

    username: str
    password: str | None = field(default=None, repr=False)
    password_file: str | None = None
    mount: str = "userpass"

    def __post_init__(self) -> None:
        if (self.password is None) == (self.password_file is None):
            raise ValueError("UserpassAuth takes exactly one of password= and password_file=")

    def login(self, client: hvac.Client) -> Mapping[str, Any]:
        password = self.password
        if password is None:
            password = _read_file(self.password_file or "", "password")
        response = client.auth.userpass.login(
            self.username, password, use_token=False, mount_point=self.mount
        )
        return _auth_block(response)


def _auth_block(response: Any) -> Mapping[str, Any]:
    auth = response.get("auth") if isinstance(response, Mapping) else None
    if not isinstance(auth, Mapping) or not auth.get("client_token"):
        raise UnauthenticatedError("the Vault login response carries no token")
    return auth


# -- configuration helpers ------------------------------------------------------------------


def _env(name: str) -> tuple[str, str]:
    """A Vault CLI variable (``VAULT_X``), then OpenBao's spelling of it (``BAO_X``)."""
    return f"VAULT_{name}", f"BAO_{name}"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _parse_timeout(value: str) -> float:
    """Seconds, as ``10`` or ``10s`` (the ``vault`` CLI's form)."""
    text = value.strip().lower()
    try:
        return float(text[:-1]) if text.endswith("s") else float(text)
    except ValueError:
        raise ValueError("expected seconds, such as 10 or 10s") from None


def _timeout_problem(timeout: float | tuple[float, float]) -> str | None:
    seconds = timeout if isinstance(timeout, tuple) else (timeout,)
    return None if all(math.isfinite(s) and s > 0 for s in seconds) else "positive seconds"


def _mount_problem(mount: str) -> str | None:
    return None if mount.strip("/") else "a KV mount path (it is empty)"


def _parse_time(text: object) -> datetime | None:
    """Vault's RFC 3339 times carry nanoseconds and ``Z``, which Python 3.10 cannot parse."""
    if not isinstance(text, str) or not text:
        return None
    match = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if match is None:
        return None
    base, fraction, zone = match.groups()
    micros = (fraction or "0")[:6].ljust(6, "0")
    parsed = datetime.fromisoformat(f"{base}.{micros}{'+00:00' if zone == 'Z' else zone}")
    if parsed.year < 1970:  # Vault's zero time means "never"
        return None
    return parsed.astimezone(timezone.utc)


def _encode(value: str | bytes) -> dict[str, str]:
    if isinstance(value, bytes):
        return {"value": base64.b64encode(value).decode("ascii"), "encoding": "base64"}
    return {"value": value}


def _decode(data: Mapping[str, Any]) -> str | bytes:
    value = data.get("value")
    if isinstance(value, str):
        if len(data) == 1:
            return value
        if len(data) == 2 and data.get("encoding") == "base64":
            try:
                return base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                pass  # not ours: fall through and present the map as JSON
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _version_number(version: str) -> int | None:
    return int(version) if version.isascii() and version.isdigit() and version != "0" else None


def _version_state(info: Mapping[str, Any]) -> str:
    if info.get("destroyed"):
        return "destroyed"
    if info.get("deletion_time"):
        return "deleted"
    return "enabled"


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "helium_status", None)
    if isinstance(status, int):
        return status
    for cls, code in _STATUS_OF.items():
        if isinstance(exc, cls):
            return code
    return None


def _custom(settings: Mapping[str, Any]) -> dict[str, str]:
    """The custom metadata in a KV v2 metadata answer."""
    return dict(settings.get("custom_metadata") or {})


def _cas_failure(expected: int) -> str:
    what = "the secret already exists" if expected == 0 else "the current version changed"
    return f"check-and-set failed: {what}"


def _check_custom_metadata(metadata: Mapping[str, str]) -> None:
    """Refuse what Vault's custom metadata rules refuse beyond the declared size limits (which
    the store checks): an empty or unprintable key or value. Names the key, never a value."""
    for key, value in metadata.items():
        if not key or not key.isprintable():
            raise InvalidArgumentError(
                f"custom metadata key {key!r} is empty or has unprintable characters, which "
                "Vault refuses")
        if not value or not value.isprintable():
            raise InvalidArgumentError(
                f"the custom metadata value of {key!r} is empty or has unprintable characters "
                "(newlines, control characters), which Vault refuses")


@dataclass(frozen=True)
class _PutAttempt:
    """What a put's request token remembers for its retries."""

    #: The version its value write is checked against.
    base: int
    #: The custom metadata before the put (what a refused write puts back); ``None``: there
    #: was no secret.
    before: dict[str, str] | None


class _NameLocks:
    """One lock per name, kept only while a thread holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._users: collections.Counter[str] = collections.Counter()

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[None]:
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
            self._users[name] += 1
        try:
            with lock:
                yield
        finally:
            with self._guard:
                self._users[name] -= 1
                if not self._users[name]:
                    del self._users[name], self._locks[name]


# -- the backend ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class VaultOptions(Options):
    """The options of :class:`VaultBackend` (the table in docs/backends/vault.md).

    Options not given fall back to the environment variables the ``vault`` CLI reads
    (``VAULT_ADDR``, ``VAULT_TOKEN``, ``VAULT_NAMESPACE``, ``VAULT_CACERT``, ``VAULT_CAPATH``,
    ``VAULT_CLIENT_CERT``, ``VAULT_CLIENT_KEY``, ``VAULT_SKIP_VERIFY``,
    ``VAULT_CLIENT_TIMEOUT``; OpenBao's ``BAO_*`` spellings too); with no credentials at all,
    the backend reads ``~/.vault-token``.

    :param address: the server, ``https://host:8200``; ``http://`` only to a loopback address
        unless ``allow_insecure_http``.
    :param mount: the KV mount path.
    :param kv_version: 2 (versioned, check-and-set) or 1.
    :param namespace: the Vault/OpenBao namespace of the mount and of the auth method.
    :param auth: how to log in (:class:`AppRoleAuth`, :class:`KubernetesAuth`, ...).
    :param token: shortcut for ``auth=TokenAuth(token)``.
    :param ca_cert: a CA bundle file to verify the server with.
    :param ca_path: a directory of CA certificates (hashed, as ``c_rehash`` makes it).
    :param client_cert: a client certificate file for TLS client authentication.
    :param client_key: its private key file.
    :param tls_skip_verify: do not verify the server certificate (development only).
    :param allow_insecure_http: allow plain ``http://`` to a non-loopback address.
    :param timeout: seconds per HTTP request, or a ``(connect, read)`` pair.
    :param max_value_bytes: the largest value accepted.
    :param client: a ready :class:`hvac.Client` to use instead of building one; its token is
        still managed through ``auth`` when given. The connection options (address, namespace,
        TLS, timeout) are then the client's.
    """

    scheme: ClassVar[str] = "vault"
    #: URL syntax that is not an option: ``tls=`` picks the scheme of the host's address, and
    #: ``auth=`` takes the options of its method.
    url_extras: ClassVar[tuple[str, ...]] = (
        "tls", "auth", "auth_mount", "role", "role_id", "secret_id_file", "jwt_file",
        "token_file", "username", "password_file",
    )

    address: str = option("https://127.0.0.1:8200", url="host", env=_env("ADDR"))
    mount: str = option("secret", url="path", check=_mount_problem)
    kv_version: Literal[1, 2] = option(2, query=True)
    namespace: str | None = option(None, query=True, env=_env("NAMESPACE"))
    auth: VaultAuth | None = option(None, url="`?auth=` and its options")
    token: str | None = option(None, env=_env("TOKEN"), secret=True)
    ca_cert: str | None = option(None, query=True, env=_env("CACERT"))
    ca_path: str | None = option(None, query=True, env=_env("CAPATH"))
    client_cert: str | None = option(None, query=True, env=_env("CLIENT_CERT"))
    client_key: str | None = option(None, query=True, env=_env("CLIENT_KEY"))
    tls_skip_verify: bool = option(False, query=True, env=_env("SKIP_VERIFY"))
    allow_insecure_http: bool = option(False, query=True)
    timeout: float | tuple[float, float] = option(
        DEFAULT_TIMEOUT, query=True, env=_env("CLIENT_TIMEOUT"), parse=_parse_timeout,
        check=_timeout_problem,
    )
    max_value_bytes: int = option(DEFAULT_MAX_VALUE_BYTES, ge=1)
    client: hvac.Client | None = None


class VaultBackend(BackendBase):
    """Secrets in a Vault / OpenBao KV mount.

    :param address: the server (see :class:`VaultOptions`).
    :param options: a ready :class:`VaultOptions`, or pass its fields as keywords.
    """

    name: ClassVar[str] = "vault"

    def __init__(
        self,
        address: str | None = None,
        *,
        options: VaultOptions | None = None,
        **keywords: Any,
    ) -> None:
        if address is not None:
            keywords["address"] = address
        self._options = opts = build(VaultOptions, options, keywords)
        self.mount = opts.mount.strip("/")
        self.kv_version = opts.kv_version
        client, token = opts.client, opts.token
        given_token = token is not None and opts.source("token") == "keyword"
        if opts.auth is not None and given_token:
            raise ValueError("pass auth= or token=, not both")
        if client is not None and opts.auth is None and not given_token and client.token:
            token = client.token  # a ready client brings its token, before VAULT_TOKEN
        self.auth = self._resolve_auth(opts.auth, token)
        v2 = opts.kv_version == 2
        self.capabilities = Capabilities(
            binary=True,
            versions=v2,
            labels=False,
            max_value_bytes=opts.max_value_bytes,
            version_probe=v2,
            batch_get=0,
            # v2: a retried put is recognised (see put); v1: a put is a plain overwrite.
            idempotent_put=True,
            check_and_set=v2,
            staging=v2,
            max_metadata_keys=MAX_METADATA_KEYS if v2 else None,
            max_metadata_key_bytes=MAX_METADATA_KEY_BYTES if v2 else None,
            max_metadata_value_bytes=MAX_METADATA_VALUE_BYTES if v2 else None,
        )
        self._local = threading.local()
        if client is None:
            client = self._build_client(opts)
        else:
            client.adapter.session.hooks["response"].append(self._on_response)
        self._client = client
        self.address: str = client.url
        self.namespace = client.adapter.namespace

        # Token lifecycle state, changed only under _auth_lock.
        self._auth_lock = threading.Lock()
        self._token: str | None = None
        self._generation = 0
        self._renew_at = 0.0
        self._expires_at = 0.0
        self._lease = 0.0
        self._renewable = False
        self._capped = False
        #: Successful logins (a plain token counts once per time it is (re)loaded).
        self.logins = 0
        #: Successful token renewals.
        self.renewals = 0

        # Request tokens of recent puts -> what their retries need (see _put_v2).
        self._put_tokens: collections.OrderedDict[str, _PutAttempt] = collections.OrderedDict()
        self._put_lock = threading.Lock()
        self._name_locks = _NameLocks()

    def __repr__(self) -> str:
        namespace = f" namespace={self.namespace!r}" if self.namespace else ""
        return (f"<VaultBackend {self.address} mount={self.mount!r} kv=v{self.kv_version}"
                f"{namespace} auth={self.auth.method}>")

    # -- construction ----------------------------------------------------------------------

    @property
    def options(self) -> VaultOptions:
        """The resolved options (read-only)."""
        return self._options

    @staticmethod
    def _resolve_auth(auth: VaultAuth | None, token: str | None) -> VaultAuth:
        if auth is not None:
            return auth
        if token is not None:
            return TokenAuth(token=token)
        token_file = Path.home() / ".vault-token"
        if token_file.is_file():
            return TokenAuth(token_file=str(token_file))
        raise ValueError(
            "no Vault credentials: pass auth= or token=, set VAULT_TOKEN, or log in with the "
            "vault CLI (~/.vault-token)"
        )

    def _build_client(self, opts: VaultOptions) -> hvac.Client:
        address, allow_insecure_http = opts.address, opts.allow_insecure_http
        parts = urlsplit(address)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the Vault address must be http(s)://host[:port], not {address!r}")
        if parts.scheme == "http" and not (allow_insecure_http or _is_loopback(parts.hostname)):
            raise ValueError(
                "refusing plain http to a non-loopback Vault address: use https, or pass "
                "allow_insecure_http=True if the network is trusted"
            )
        verify: bool | str = True
        if opts.tls_skip_verify:
            verify = False
        elif opts.ca_cert:
            verify = opts.ca_cert
        elif opts.ca_path:
            verify = opts.ca_path
        cert: tuple[str, str] | str | None = None
        client_cert, client_key = opts.client_cert, opts.client_key
        if client_cert:
            cert = (client_cert, client_key) if client_key else client_cert
        elif client_key:
            raise ValueError("client_key needs client_cert")

        session = requests.Session()
        # No retries below us: the store's retry layer is the only one.
        no_retries = requests.adapters.HTTPAdapter(max_retries=0)
        session.mount("https://", no_retries)
        session.mount("http://", no_retries)
        session.verify = verify
        session.cert = cert
        session.hooks["response"].append(self._on_response)
        return hvac.Client(
            url=address.rstrip("/"), namespace=opts.namespace or None, session=session,
            verify=verify, cert=cert, timeout=opts.timeout,
        )

    @classmethod
    def from_url(cls, url: SplitResult, **keywords: Any) -> VaultBackend:
        """Build from ``vault://host[:port]/mount?option=value&...``.

        An empty host uses ``VAULT_ADDR``. Query options: ``namespace``, ``kv_version``,
        ``tls`` (``false`` for plain http), ``allow_insecure_http``, ``ca_cert``, ``ca_path``,
        ``client_cert``, ``client_key``, ``tls_skip_verify``, ``timeout``, ``auth`` (``token``,
        ``approle``, ``kubernetes``, ``jwt``, ``userpass``) with ``auth_mount``, ``role``,
        ``role_id``, ``secret_id_file``, ``jwt_file``, ``token_file``, ``username``,
        ``password_file``. Credentials themselves never go in a URL: pass them by keyword.
        """
        query = query_of(url)
        refused = sorted(set(query) & {"token", "secret_id", "password", "jwt"})
        if refused:
            raise ValueError(
                f"credentials do not belong in a store URL ({', '.join(refused)}): pass them "
                "by keyword, or name a file (token_file, secret_id_file, password_file, jwt_file)"
            )
        derived: dict[str, Any] = {}
        tls = query.pop("tls", None)
        if url.netloc:
            secure = tls is None or query_flag(VaultOptions, "tls", tls)
            host = url.hostname or ""
            port = url.port or DEFAULT_PORT
            shown = f"[{host}]" if ":" in host else host
            derived["address"] = f"{'https' if secure else 'http'}://{shown}:{port}"
        elif tls is not None:
            raise ValueError("tls= needs a host in the URL (VAULT_ADDR carries its own scheme)")
        if url.path.strip("/"):
            derived["mount"] = url.path.strip("/")
        method = query.pop("auth", None)
        if method is not None:
            derived["auth"] = _auth_from_query(method, query)
        stray = sorted(set(query) & set(VaultOptions.url_extras))
        if stray:
            raise ValueError(
                f"the vault:// URL option(s) {', '.join(stray)} do not apply to "
                + (f"auth={method}" if method is not None else "a URL without auth=")
            )
        return cls(options=parse(VaultOptions, keywords=keywords, query=query, url=derived))

    # -- token lifecycle -------------------------------------------------------------------

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        # hvac's exceptions carry neither the status nor the headers: note them per thread.
        if response.status_code >= 400:
            self._local.status = response.status_code
            self._local.retry_after = retry_after_from_headers(response.headers)

    def _ensure_token(self) -> None:
        """Log in, renew or log in again, as the token's age requires. Thread-safe.

        While the token is valid, a renewal or login that fails does not fail the call: the
        token is used until it expires, and its upkeep is tried again later.
        """
        if self._token is not None and time.monotonic() < self._renew_at:
            return  # the common case, without the lock
        with self._auth_lock:
            now = time.monotonic()
            if self._token is None:
                self._login_locked()
                return
            if now < self._renew_at:
                return  # another thread renewed meanwhile
            try:
                if now < self._expires_at:
                    self._maintain_locked()
                elif self._can_replace():
                    self._login_locked()
                else:
                    self._renew_at = float("inf")  # nothing to do; Vault will say if it expired
            except (hvac.exceptions.VaultError, requests.RequestException,
                    UnauthenticatedError) as exc:
                if now >= self._expires_at:
                    raise  # expired: nothing to fall back on
                remaining = self._expires_at - now
                self._renew_at = now + min(remaining, max(1.0, remaining / 2))
                _log.warning("Vault token upkeep (%s auth) failed with %s; the current token "
                             "stays in use until it expires in %.0f s", self.auth.method,
                             type(exc).__name__, remaining)

    def _maintain_locked(self) -> None:
        """Renew the valid token, or replace it once renewing can no longer extend it."""
        if self._renewable and not self._capped:
            try:
                self._renew_locked()
                return
            except (hvac.exceptions.VaultError, requests.RequestException) as exc:
                # Near its maximum TTL Vault answers 500 ("past the max TTL"), and 403 once
                # the token is revoked: either way a new login is the way on, if there is one.
                if not self._can_replace():
                    raise
                _log.warning("renewing the Vault token failed with %s; logging in again (%s)",
                             type(exc).__name__, self.auth.method)
        if self._can_replace():
            self._login_locked()
        else:
            self._renew_at = self._expires_at  # cannot be extended: used as it is until then

    def _can_replace(self) -> bool:
        """Whether a new token can be had: a login, or a token file another process renews."""
        if isinstance(self.auth, TokenAuth):
            return self.auth.token_file is not None
        return self.auth.can_login

    def _login_locked(self) -> None:
        if isinstance(self.auth, TokenAuth):
            token = self.auth.current()
            self._client.token = token
            remaining, lease, renewable = self._lookup_ttl()
        else:
            try:
                auth = self.auth.login(self._client)
            except hvac.exceptions.VaultError as exc:
                status = _status(exc)
                if status is not None and status < 500 and status != 429:
                    raise UnauthenticatedError(
                        f"Vault {self.auth.method} login failed (HTTP {status})"
                    ) from exc
                raise
            token = str(auth["client_token"])
            remaining = lease = float(auth.get("lease_duration") or 0)
            renewable = bool(auth.get("renewable"))
            self._client.token = token
        self._token = token
        self._set_lease(remaining, renewable)
        self._capped = False
        self._lease = lease
        self._generation += 1
        self.logins += 1

    def _lookup_ttl(self) -> tuple[float, float, bool]:
        """A given token's remaining TTL, its TTL when created, and whether it is renewable
        (TTLs of 0: it never expires, or we may not look it up and leave it to Vault)."""
        try:
            data = self._client.auth.token.lookup_self()["data"]
        except hvac.exceptions.Forbidden:
            return 0.0, 0.0, False  # invalid, or no lookup-self permission: calls will tell
        remaining = float(data.get("ttl") or 0)
        lease = float(data.get("period") or data.get("creation_ttl") or remaining)
        return remaining, lease, bool(data.get("renewable"))

    def _set_lease(self, ttl: float, renewable: bool) -> None:
        now = time.monotonic()
        self._renewable = renewable
        if ttl <= 0:
            self._expires_at = self._renew_at = float("inf")
        else:
            self._expires_at = now + ttl
            self._renew_at = now + ttl * RENEW_AT_FRACTION

    def _renew_locked(self) -> None:
        increment = max(1, int(self._lease)) if self._lease > 0 else None
        response = self._client.auth.token.renew_self(increment=increment)
        auth = _auth_block(response)
        granted = float(auth.get("lease_duration") or 0)
        self.renewals += 1
        if granted > 0:
            self._set_lease(granted, bool(auth.get("renewable")))
        # Near its maximum TTL Vault grants less than asked for, with a warning: renewing
        # again cannot extend the token, so the next upkeep replaces it (or stops renewing).
        warnings = response.get("warnings") if isinstance(response, Mapping) else None
        self._capped = granted <= 0 or (increment is not None and granted < increment) or any(
            "max_ttl" in str(warning) for warning in warnings or ())

    def _token_rejected(self) -> bool:
        """After a 403: is the token itself invalid (rather than the policy saying no)?"""
        try:
            self._client.auth.token.lookup_self()
        except hvac.exceptions.Forbidden:
            return True
        except (hvac.exceptions.VaultError, requests.RequestException):
            return False
        return False

    def _relogin(self, generation: int) -> bool:
        """Log in again unless another thread already did; ``False`` if impossible."""
        with self._auth_lock:
            if self._generation != generation:
                return True
            if isinstance(self.auth, TokenAuth) and (
                self.auth.token_file is None or self.auth.current() == self._token
            ):
                return False
            self._login_locked()
            return True

    def _send(self, fn: Callable[[], T]) -> T:
        self._local.status = None
        self._local.retry_after = None
        try:
            return fn()
        except hvac.exceptions.VaultError as exc:
            exc.helium_status = self._local.status
            exc.helium_retry_after = self._local.retry_after
            raise

    def _op(self, fn: Callable[[], T]) -> T:
        """Run one request with a live token; after a rejected token, log in and retry once."""
        self._ensure_token()
        generation = self._generation
        try:
            return self._send(fn)
        except hvac.exceptions.Forbidden as exc:
            if not self._token_was_rejected(generation):
                raise  # the policy denies it
            if not self._relogin(generation):
                raise UnauthenticatedError("the Vault token is invalid or expired") from exc
        try:
            return self._send(fn)
        except hvac.exceptions.Forbidden as exc:
            if self._token_rejected():
                raise UnauthenticatedError("the Vault token is invalid or expired") from exc
            raise

    def _token_was_rejected(self, generation: int) -> bool:
        """After a 403: was it the token (rather than the policy)? A token replaced by another
        thread meanwhile counts as rejected, so the call is retried with the new one."""
        rejected = self._token_rejected()
        return rejected or self._generation != generation

    # -- the protocol ----------------------------------------------------------------------

    @property
    def _kv2(self) -> Any:
        return self._client.secrets.kv.v2

    @property
    def _kv1(self) -> Any:
        return self._client.secrets.kv.v1

    def _metadata(self, name: str) -> Mapping[str, Any]:
        response = self._op(lambda: self._kv2.read_secret_metadata(name, mount_point=self.mount))
        data: Mapping[str, Any] = response["data"]
        return data

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        if label is not None:
            raise UnsupportedError("Vault KV has no labels")
        if self.kv_version == 1:
            return self._get_v1(name, version)
        number = None
        if version is not None:
            number = _version_number(version)
            if number is None:
                self._metadata(name)  # not found beats a malformed version
                raise VersionNotFoundError("Vault KV versions are positive integers")
        try:
            response = self._op(lambda: self._kv2.read_secret_version(
                name, version=number, mount_point=self.mount, raise_on_deleted_version=False,
            ))
        except hvac.exceptions.InvalidPath as exc:
            if number is not None:
                self._metadata(name)  # raises not found when the secret itself is missing
                raise VersionNotFoundError("no such version") from exc
            raise
        body = response["data"]
        meta = body.get("metadata") or {}
        if body.get("data") is None:
            state = _version_state(meta)
            if number is None:
                raise SecretNotFoundError(f"the current version is {state}")
            raise VersionNotFoundError(f"the version is {state}")
        return RawSecret(
            name=name,
            value=_decode(body["data"]),
            version=str(meta.get("version")),
            created_at=_parse_time(meta.get("created_time")),
            metadata=MappingProxyType(dict(meta.get("custom_metadata") or {})),
        )

    def _get_v1(self, name: str, version: str | None) -> RawSecret:
        response = self._op(lambda: self._kv1.read_secret(name, mount_point=self.mount))
        data = response["data"]
        current = self._v1_version(data)
        if version is not None and version != current:
            raise VersionNotFoundError("KV version 1 keeps only the current value")
        return RawSecret(name=name, value=_decode(data), version=current)

    @staticmethod
    def _v1_version(data: Mapping[str, Any]) -> str:
        # KV v1 has no versions: a keyed digest of the content lets rotation listeners notice
        # a change without revealing anything about the value. Stable within this process.
        canonical = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
        return "c" + hmac.new(_V1_DIGEST_KEY, canonical, hashlib.sha256).hexdigest()[:16]

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
        if labels:
            raise UnsupportedError("Vault KV has no labels")
        data = _encode(value)
        if self.kv_version == 1:
            # No check-and-set on v1 (capabilities.check_and_set is False): the store
            # compares the current version first and passes neither option here.
            if metadata:
                raise UnsupportedError("KV version 1 keeps no custom metadata")
            self._op(lambda: self._kv1.create_or_update_secret(
                name, secret=data, mount_point=self.mount))
            return VersionInfo(version=self._v1_version(data))

        if metadata:
            _check_custom_metadata(metadata)
        expected: int | None = 0 if create_only else None
        if expected_version is not None:
            expected = _version_number(expected_version)
            if expected is None or create_only:
                raise ConflictError("check-and-set failed: no such version")
        # One writer per name in this process: plain puts from many threads queue here rather
        # than race each other's check-and-set (other processes are handled in _put_v2).
        with self._name_locks.hold(name):
            return self._put_v2(name, data, expected=expected, request_token=request_token,
                                metadata=metadata or None)

    # A KV v2 put takes up to two writes: custom metadata, then the value. They go in that
    # order because only the metadata write can be undone: if the value is refused, the old
    # metadata is put back, so a put either lands whole or leaves the secret as it was; a
    # value written and then refused metadata could not be taken back. A write whose outcome
    # is unknown (no answer) is left to the store's retry of the whole put, which is safe:
    # the metadata write is idempotent and the value write is check-and-set against the
    # version the first attempt saw (the request token remembers it), so a retry whose first
    # attempt landed conflicts, finds its own value in the next version and returns that.

    def _put_v2(self, name: str, data: Mapping[str, str], *, expected: int | None,
                request_token: str | None, metadata: Mapping[str, str] | None) -> VersionInfo:
        """Write ``data`` (checked against ``expected``; ``None``: a plain put) and merge
        ``metadata`` into the secret's custom metadata, all or nothing."""
        with self._put_lock:
            attempt = self._put_tokens.get(request_token) if request_token else None
        retried = attempt is not None
        base = attempt.base if attempt is not None else expected  # None: read it
        for _ in range(PLAIN_PUT_ROUNDS):
            settings = None
            if metadata is not None or base is None:
                settings = self._metadata_or_none(name)
            current = int((settings or {}).get("current_version") or 0)
            if attempt is None:  # the first attempt: what a failure puts back
                before = _custom(settings) if settings is not None else None
            else:
                before = attempt.before
            if base is None:
                base = current
            attempt = _PutAttempt(base=base, before=before)
            self._remember_put(request_token, attempt)
            if metadata is not None:
                if expected is not None and current != expected and not retried:
                    raise ConflictError(_cas_failure(expected))  # nothing written yet
                try:
                    self._merge_custom_metadata(name, settings, metadata)
                except (hvac.exceptions.VaultError, InvalidArgumentError):
                    self._undo_metadata(name, metadata, before)  # what earlier rounds wrote
                    raise
            try:
                response = self._op(lambda b=base: self._kv2.create_or_update_secret(  # type: ignore[misc]
                    name, secret=data, cas=b, mount_point=self.mount))
            except hvac.exceptions.InvalidRequest as exc:
                if not _is_cas_mismatch(exc):
                    self._undo_metadata(name, metadata, before)
                    raise
                if retried:
                    mine = self._version_if_ours(name, base + 1, data)
                    if mine is not None:
                        return mine
                if expected is not None:
                    self._undo_metadata(name, metadata, before)
                    raise ConflictError(_cas_failure(expected)) from exc
                base, retried = None, False  # another writer got in: write on top of it
                continue
            except hvac.exceptions.VaultError:
                self._undo_metadata(name, metadata, before)  # refused: the value is not written
                raise
            written = response["data"]
            return VersionInfo(version=str(written["version"]),
                               created_at=_parse_time(written.get("created_time")))
        raise ConflictError("other writers kept changing the secret under a plain put")

    def _metadata_or_none(self, name: str) -> Mapping[str, Any] | None:
        try:
            return self._metadata(name)
        except hvac.exceptions.InvalidPath:
            return None

    def _current_or_zero(self, name: str) -> int:
        return int((self._metadata_or_none(name) or {}).get("current_version") or 0)

    def _remember_put(self, request_token: str | None, attempt: _PutAttempt) -> None:
        if request_token is None:
            return
        with self._put_lock:
            self._put_tokens[request_token] = attempt
            self._put_tokens.move_to_end(request_token)
            while len(self._put_tokens) > 4096:
                self._put_tokens.popitem(last=False)

    def _version_if_ours(self, name: str, number: int, data: Mapping[str, str]
                         ) -> VersionInfo | None:
        try:
            response = self._op(lambda: self._kv2.read_secret_version(
                name, version=number, mount_point=self.mount, raise_on_deleted_version=False))
        except hvac.exceptions.InvalidPath:
            return None
        body = response["data"]
        if body.get("data") is None or not hmac.compare_digest(
            json.dumps(body["data"], sort_keys=True).encode(),
            json.dumps(data, sort_keys=True).encode(),
        ):
            return None
        meta = body.get("metadata") or {}
        return VersionInfo(version=str(number), created_at=_parse_time(meta.get("created_time")))

    def _merge_custom_metadata(self, name: str, settings: Mapping[str, Any] | None,
                               metadata: Mapping[str, str]) -> None:
        """Merge ``metadata`` into the custom metadata in ``settings`` (the secret's metadata
        as just read; ``None``: no secret yet), unless it is there already."""
        current = _custom(settings) if settings is not None else {}
        merged = {**current, **metadata}
        if merged == current:
            return  # a retry whose first attempt wrote it, or nothing new
        if len(merged) > MAX_METADATA_KEYS:
            raise InvalidArgumentError(
                f"the secret would have {len(merged)} custom metadata keys; Vault keeps at "
                f"most {MAX_METADATA_KEYS}")
        self._write_custom_metadata(name, merged, settings)

    def _write_custom_metadata(self, name: str, custom: Mapping[str, str],
                               settings: Mapping[str, Any] | None) -> None:
        # hvac sends delete_version_after="0s" unless given one, which would clear the
        # secret's own setting: send back the one just read. Other settings are left alone.
        keep = str((settings or {}).get("delete_version_after") or "0s")
        self._op(lambda: self._kv2.update_metadata(
            name, custom_metadata=dict(custom), delete_version_after=keep,
            mount_point=self.mount))

    def _undo_metadata(self, name: str, metadata: Mapping[str, str] | None,
                       before: dict[str, str] | None) -> None:
        """The value was refused: put back the custom metadata this put changed (best effort:
        the value write's own error is what the caller hears)."""
        if metadata is None:
            return
        try:
            settings = self._metadata_or_none(name)
            if settings is None or _custom(settings) == (before or {}):
                return
            if before is None and not settings.get("versions"):
                # The secret did not exist: leave no metadata-only entry behind.
                self._op(lambda: self._kv2.delete_metadata_and_all_versions(
                    name, mount_point=self.mount))
            else:
                self._write_custom_metadata(name, before or {}, settings)
        except (hvac.exceptions.VaultError, requests.RequestException) as exc:
            _log.warning("could not put back the custom metadata of %r after a refused "
                         "write (%s)", name, type(exc).__name__)

    def delete(self, name: str, *, purge: bool = False) -> None:
        # Vault answers 204 for a missing path: check first, so a missing secret is reported.
        # ``purge`` changes nothing: deleting the metadata is already permanent on Vault.
        if self.kv_version == 1:
            self._op(lambda: self._kv1.read_secret(name, mount_point=self.mount))
            self._op(lambda: self._kv1.delete_secret(name, mount_point=self.mount))
            return
        self._metadata(name)
        self._op(lambda: self._kv2.delete_metadata_and_all_versions(name, mount_point=self.mount))
        if self.capabilities.staging:
            self._drop_staged(name)  # a staged value must not outlive its secret

    def list_names(self, prefix: str = "") -> Iterator[str]:
        directory = prefix[: prefix.rfind("/") + 1]
        pending = [directory]
        kv = self._kv2 if self.kv_version == 2 else self._kv1
        while pending:
            path = pending.pop()
            try:
                response = self._op(lambda p=path: kv.list_secrets(p, mount_point=self.mount))  # type: ignore[misc]
            except hvac.exceptions.InvalidPath:
                continue  # nothing under this directory
            for key in response["data"]["keys"]:
                full = path + key
                if key.endswith("/"):
                    # Descend only where names under ``full`` can start with the prefix.
                    if full.startswith(prefix) or prefix.startswith(full):
                        pending.append(full)
                elif full.startswith(prefix) and not full.endswith(STAGED_SUFFIX):
                    yield full

    def list_versions(self, name: str) -> list[VersionInfo]:
        if self.kv_version == 1:
            return [VersionInfo(version=self._get_v1(name, None).version)]
        versions = self._metadata(name).get("versions") or {}
        if not versions:
            raise SecretNotFoundError("the secret has no versions")
        return [
            VersionInfo(
                version=number,
                created_at=_parse_time(info.get("created_time")),
                state=_version_state(info),
            )
            for number, info in sorted(versions.items(), key=lambda item: int(item[0]))
        ]

    def current_version(self, name: str) -> str:
        if self.kv_version == 1:
            return self._get_v1(name, None).version
        meta = self._metadata(name)
        current = str(meta.get("current_version") or 0)
        info = (meta.get("versions") or {}).get(current)
        if info is None:
            raise SecretNotFoundError("the secret has no current version")
        state = _version_state(info)
        if state != "enabled":
            raise SecretNotFoundError(f"the current version is {state}")
        return current

    # -- staged rotation (KV v2) -----------------------------------------------------------
    #
    # KV v2 has no version that exists without being current, so a staged value waits at a
    # companion path (NAME~staged) with the version it was staged against. Its id is the
    # version it will become: promoting writes it to NAME with cas=<that version>, so it lands
    # exactly as announced, or conflicts if anyone wrote in between.

    def stage(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_current: str | None,
        request_token: str | None = None,
    ) -> VersionInfo:
        self._require_v2("staged rotation")
        base = 0
        if expected_current is not None:
            number = _version_number(expected_current)
            if number is None:
                raise ConflictError("staging failed: no such version")
            base = number
        if self._current_or_zero(name) != base:
            raise ConflictError("staging failed: the current version changed")
        record = {**_encode(value), "for_version": str(base)}
        companion = name + STAGED_SUFFIX
        cas = 0
        for _ in range(2):
            try:
                self._op(lambda c=cas: self._kv2.create_or_update_secret(  # type: ignore[misc]
                    companion, secret=record, cas=c, mount_point=self.mount))
                return VersionInfo(version=str(base + 1), labels=frozenset({PENDING}))
            except hvac.exceptions.InvalidRequest as exc:
                if not _is_cas_mismatch(exc):
                    raise
                staged, staged_version = self._read_staged(name)
                if staged is None:
                    cas = staged_version  # deleted versions only: write over them
                elif staged.get("for_version") == str(base):
                    if staged == record:  # a retry of this very stage call
                        return VersionInfo(version=str(base + 1),
                                           labels=frozenset({PENDING}))
                    raise ConflictError("staging failed: another rotation is staged") from exc
                else:
                    cas = staged_version  # left over from an older rotation: replace it
        raise ConflictError("staging failed: the staged value kept changing")

    def _read_staged(self, name: str) -> tuple[dict[str, Any] | None, int]:
        """The staged record of ``name`` (``None`` if none) and its companion's version."""
        try:
            response = self._op(lambda: self._kv2.read_secret_version(
                name + STAGED_SUFFIX, mount_point=self.mount, raise_on_deleted_version=False))
        except hvac.exceptions.InvalidPath:
            return None, 0
        body = response["data"]
        version = int((body.get("metadata") or {}).get("version") or 0)
        data = body.get("data")
        return (dict(data) if isinstance(data, Mapping) else None), version

    def promote(self, name: str, version: str, *, expected_current: str | None) -> None:
        self._require_v2("staged rotation")
        staged, _ = self._read_staged(name)
        target = _version_number(version)
        if staged is None or target is None or staged.get("for_version") != str(target - 1):
            raise VersionNotFoundError("no such staged version")
        if expected_current is not None and expected_current != str(target - 1):
            raise ConflictError("promotion failed: the current version changed")
        value = {k: v for k, v in staged.items() if k != "for_version"}
        try:
            self._op(lambda: self._kv2.create_or_update_secret(
                name, secret=value, cas=target - 1, mount_point=self.mount))
        except hvac.exceptions.InvalidRequest as exc:
            if _is_cas_mismatch(exc):
                raise ConflictError("promotion failed: the current version changed") from exc
            raise
        # Promoted already: a leftover companion holds the now-current value and the next
        # rotation replaces it. Only a policy without "delete" on metadata leaves one.
        with contextlib.suppress(hvac.exceptions.Forbidden):
            self._drop_staged(name)

    def discard(self, name: str, version: str) -> None:
        self._require_v2("staged rotation")
        staged, _ = self._read_staged(name)
        target = _version_number(version)
        if staged is None or target is None or staged.get("for_version") != str(target - 1):
            raise VersionNotFoundError("no such staged version")
        self._drop_staged(name)

    def _drop_staged(self, name: str) -> None:
        self._op(lambda: self._kv2.delete_metadata_and_all_versions(
            name + STAGED_SUFFIX, mount_point=self.mount))

    def classify(self, exc: BaseException) -> Classified | None:
        if isinstance(exc, hvac.exceptions.VaultError):
            return _classify_vault(exc)
        if isinstance(exc, requests.exceptions.SSLError):
            return Classified(ErrorCode.UNAVAILABLE,
                              "TLS with the Vault server failed (certificate not trusted?)",
                              transient=False)
        if isinstance(exc, requests.exceptions.Timeout):
            return Classified(ErrorCode.UNAVAILABLE, "the Vault server did not answer in time")
        if isinstance(exc, requests.exceptions.ConnectionError):
            return Classified(ErrorCode.UNAVAILABLE, "cannot connect to the Vault server")
        if isinstance(exc, requests.exceptions.RequestException):
            return Classified(ErrorCode.UNAVAILABLE, f"HTTP error talking to Vault "
                                                     f"({type(exc).__name__})")
        return None

    def close(self) -> None:
        self._client.adapter.close()

    # -- Vault specifics (not in the protocol) ---------------------------------------------

    def _translated(self, fn: Callable[[], T], name: str) -> T:
        """Run an operation outside the store, raising helium errors as the store would."""
        try:
            return fn()
        except HeliumError as exc:
            if exc.backend is None:
                exc.backend, exc.name = self.name, name
            raise
        except Exception as exc:
            verdict = self.classify(exc) or Classified(ErrorCode.UNKNOWN,
                                                       f"unexpected {type(exc).__name__}")
            raise error_for_code(verdict.code)(
                verdict.message or verdict.code.value, backend=self.name, name=name,
                transient=verdict.transient, retry_after=verdict.retry_after,
            ) from exc

    def _require_v2(self, what: str) -> None:
        if self.kv_version != 2:
            raise UnsupportedError(f"{what} needs a KV version 2 mount", backend=self.name)

    @extra_operation(writes=True)
    def delete_latest_version(self, name: str) -> None:
        """Soft-delete only the current version (KV v2); :meth:`undelete_versions` undoes it.

        ``SecretStore.delete`` removes the whole secret and its history instead.
        """
        self._require_v2("deleting one version")
        self._translated(lambda: (self._metadata(name), self._op(
            lambda: self._kv2.delete_latest_version_of_secret(name, mount_point=self.mount))),
            name)

    @extra_operation(writes=True)
    def undelete_versions(self, name: str, versions: Sequence[str]) -> None:
        """Restore soft-deleted versions (KV v2)."""
        self._require_v2("undeleting versions")
        numbers = [int(v) for v in versions]
        self._translated(lambda: self._op(lambda: self._kv2.undelete_secret_versions(
            name, numbers, mount_point=self.mount)), name)

    @extra_operation(writes=True)
    def destroy_versions(self, name: str, versions: Sequence[str]) -> None:
        """Destroy versions for good: their data is removed, the metadata stays (KV v2)."""
        self._require_v2("destroying versions")
        numbers = [int(v) for v in versions]
        self._translated(lambda: self._op(lambda: self._kv2.destroy_secret_versions(
            name, numbers, mount_point=self.mount)), name)


def _has_error(exc: hvac.exceptions.VaultError, text: str) -> bool:
    return any(text in str(error) for error in (exc.errors or ()))


def _is_cas_mismatch(exc: hvac.exceptions.VaultError) -> bool:
    return _has_error(exc, "check-and-set")


def _classify_vault(exc: hvac.exceptions.VaultError) -> Classified:
    # Messages come from the status alone: Vault's error text may echo request data.
    status = _status(exc)
    if isinstance(exc, hvac.exceptions.InvalidPath):
        return Classified(ErrorCode.NOT_FOUND, "secret not found")
    if isinstance(exc, hvac.exceptions.Forbidden):
        return Classified(ErrorCode.PERMISSION_DENIED, "permission denied by Vault policy (HTTP 403)")
    if isinstance(exc, hvac.exceptions.Unauthorized):
        return Classified(ErrorCode.UNAUTHENTICATED, "Vault rejected the credentials (HTTP 401)")
    if isinstance(exc, hvac.exceptions.InvalidRequest):
        if _is_cas_mismatch(exc):
            return Classified(ErrorCode.CONFLICT, "check-and-set failed: the version changed")
        if _has_error(exc, "Upgrading from non-versioned to versioned data"):
            # A new or upgraded KV v2 mount refuses requests for a moment, with a 400.
            return Classified(ErrorCode.UNAVAILABLE, "the KV mount is being upgraded (HTTP 400)")
        return Classified(ErrorCode.INVALID_ARGUMENT, "Vault rejected the request (HTTP 400)")
    if isinstance(exc, hvac.exceptions.RateLimitExceeded):
        retry_after = getattr(exc, "helium_retry_after", None)
        return Classified(ErrorCode.THROTTLED, "Vault rate limit quota exceeded (HTTP 429)",
                          retry_after=retry_after if isinstance(retry_after, float) else None)
    if isinstance(exc, hvac.exceptions.VaultDown):
        return Classified(ErrorCode.UNAVAILABLE, "Vault is sealed or on standby (HTTP 503)")
    if isinstance(exc, hvac.exceptions.ParamValidationError):
        return Classified(ErrorCode.INVALID_ARGUMENT, "invalid parameters for the Vault API")
    if status is not None and (status >= 500 or status in (408, 412)):
        return Classified(ErrorCode.UNAVAILABLE, f"Vault server error (HTTP {status})")
    shown = f"HTTP {status}" if status is not None else type(exc).__name__
    return Classified(ErrorCode.UNKNOWN, f"unexpected Vault error ({shown})")


def _auth_from_query(method: str, query: dict[str, str]) -> VaultAuth:
    """Build the auth method that a URL's ``auth=`` names, consuming its options."""
    mount = query.pop("auth_mount", None)
    extra: dict[str, Any] = {"mount": mount} if mount else {}
    if method == "token":
        token_file = query.pop("token_file", None)
        if token_file is None:
            raise ValueError("auth=token in a URL needs token_file= (or pass token= by keyword)")
        return TokenAuth(token_file=token_file)
    if method == "approle":
        role_id = query.pop("role_id", None)
        if role_id is None:
            raise ValueError("auth=approle needs role_id=")
        return AppRoleAuth(role_id=role_id, secret_id_file=query.pop("secret_id_file", None),
                           **extra)
    if method == "kubernetes":
        role = query.pop("role", None)
        if role is None:
            raise ValueError("auth=kubernetes needs role=")
        return KubernetesAuth(role=role, jwt_file=query.pop("jwt_file", KUBERNETES_TOKEN_FILE),
                              **extra)
    if method == "jwt":
        role, jwt_file = query.pop("role", None), query.pop("jwt_file", None)
        if role is None or jwt_file is None:
            raise ValueError("auth=jwt in a URL needs role= and jwt_file=")
        return JWTAuth(role=role, jwt_file=jwt_file, **extra)
    if method == "userpass":
        username, password_file = query.pop("username", None), query.pop("password_file", None)
        if username is None or password_file is None:
            raise ValueError("auth=userpass in a URL needs username= and password_file=")
        return UserpassAuth(username=username, password_file=password_file, **extra)
    raise ValueError(f"unknown Vault auth method {method!r}: token, approle, kubernetes, jwt "
                     "or userpass")
