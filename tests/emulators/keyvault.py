"""A wire-level emulator of the Azure Key Vault *secrets* REST API, over HTTPS on loopback.

Written from Microsoft's published REST reference (api-version 7.x and the dated versions that
followed) and the shapes azure-keyvault-secrets deserialises, so that the real ``SecretClient``
can be pointed at it with certificate verification on:

* TLS with a CA and server certificate made at start-up (:func:`make_tls`); clients trust
  :attr:`KeyVaultEmulator.ca_path` (``connection_verify=``).
* The bearer challenge: a request without the expected ``Authorization: Bearer <token>`` gets
  401 with ``WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>",
  resource="https://vault.azure.net"``.
* ``PUT /secrets/{name}`` (set), ``GET /secrets/{name}[/{version}]``, ``PATCH`` (update
  properties), ``GET /secrets`` and ``GET /secrets/{name}/versions`` with ``maxresults`` and
  ``nextLink`` paging, ``DELETE /secrets/{name}``, ``GET /deletedsecrets[/{name}]``,
  ``POST /deletedsecrets/{name}/recover``, ``DELETE /deletedsecrets/{name}`` (purge).
* Names are case-insensitive and ``[0-9a-zA-Z-]{1,127}``; values up to 25 KiB; up to 15 tags.
  Version ids are 32 hex characters and listings come in no particular order (versions are
  listed by id, not by age), as on the service. Timestamps are whole seconds.
* Soft delete: a deleted secret sits in the deleted collection (optionally only after
  ``deletion_polls`` reads, to exercise the client's poller) until recovered or purged;
  writing its name meanwhile is 409 Conflict.
* Error bodies are Key Vault's: ``{"error": {"code": ..., "message": ..., "innererror": ...}}``.
* Switches: :meth:`KeyVaultEmulator.fail_next` (429 with Retry-After, 503, any status, or a
  dropped connection; before the request is carried out or after it, when the answer is lost), :attr:`KeyVaultEmulator.latency`, ``soft_delete``, ``purge_protection``,
  ``page_size`` and ``enforce_dates``.

As on the service, ``get`` of an expired or not-yet-valid secret succeeds (the dates are
informational; honouring them is the client's job) unless ``enforce_dates`` is set; ``get`` of a
disabled version is 403 with the inner error code ``SecretDisabled``.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import re
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["Fault", "KeyVaultEmulator", "RequestRecord", "make_tls"]

MAX_VALUE_BYTES = 25 * 1024
MAX_TAGS = 15
MAX_PAGE = 25
_NAME = re.compile(r"[0-9a-zA-Z-]{1,127}")
_VERSION = re.compile(r"[0-9a-f]{32}")
_RESOURCE = "https://vault.azure.net"


# -- TLS material ---------------------------------------------------------------------------


def make_tls(directory: Path) -> tuple[Path, Path, Path]:
    """Make a CA and a server certificate for 127.0.0.1 and localhost under ``directory``.

    :return: the paths of the CA certificate, the server certificate and the server key (PEM).
    """
    now = dt.datetime.now(dt.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "helium-secrets test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = directory / "ca.pem"
    cert_path = directory / "server.pem"
    key_path = directory / "server.key"
    ca_path.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


# -- state ----------------------------------------------------------------------------------


@dataclass
class _Version:
    id: str
    value: str
    content_type: str | None
    tags: dict[str, str] | None
    enabled: bool
    nbf: int | None
    exp: int | None
    created: int
    updated: int


@dataclass
class _Secret:
    name: str  # as first written; lookups are case-insensitive
    versions: dict[str, _Version] = field(default_factory=dict)
    current: str = ""


@dataclass
class _Deleted:
    secret: _Secret
    deleted_date: int
    scheduled_purge_date: int
    polls_left: int  # reads of the deleted collection that still answer 404


@dataclass(frozen=True)
class Fault:
    """One injected failure (see :meth:`KeyVaultEmulator.fail_next`)."""

    status: int | None  # None: drop the connection without an answer
    retry_after: int | None = None
    code: str | None = None
    methods: frozenset[str] | None = None
    message: str | None = None
    after: bool = False  # the request is carried out first; only its answer is lost


@dataclass(frozen=True)
class RequestRecord:
    """One request the emulator answered."""

    method: str
    path: str
    status: int | None
    authenticated: bool


class _ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, inner: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.inner = inner
        self.headers = headers or {}


def _not_found(name: str, version: str = "") -> _ApiError:
    target = f"{name}/{version}" if version else name
    return _ApiError(
        404, "SecretNotFound", f"A secret with (name/id) {target} was not found in this key vault."
    )


# -- the emulator ---------------------------------------------------------------------------


class KeyVaultEmulator:
    """An HTTPS Key Vault (secrets only) on ``127.0.0.1`` and a free port.

    Use it as a context manager, or call :meth:`start` and :meth:`stop`.

    :param token: the bearer token the emulator accepts.
    :param tenant: the tenant id named in the challenge.
    :param soft_delete: deleted secrets go to the deleted collection (the default on Azure).
    :param purge_protection: purging is refused (403), as in a vault with purge protection.
    :param recoverable_days: the soft-delete retention, in days.
    :param page_size: the largest page a listing returns (the service's is 25).
    :param enforce_dates: refuse ``get`` outside the nbf/exp window (the service does not).
    :param deletion_polls: reads of a deleted secret that answer 404 before its deletion
        "completes", so that the client's poller has to poll.
    """

    def __init__(
        self,
        *,
        token: str = "helium-test-token",
        tenant: str = "72f988bf-0000-4000-8000-2d7cd011db47",
        soft_delete: bool = True,
        purge_protection: bool = False,
        recoverable_days: int = 90,
        page_size: int = MAX_PAGE,
        enforce_dates: bool = False,
        deletion_polls: int = 0,
    ) -> None:
        self.token = token
        self.tenant = tenant
        self.soft_delete = soft_delete
        self.purge_protection = purge_protection
        self.recoverable_days = recoverable_days
        self.page_size = page_size
        self.enforce_dates = enforce_dates
        self.deletion_polls = deletion_polls
        #: Seconds to wait before answering each request.
        self.latency = 0.0
        #: Every request answered, in order (for tests that count calls).
        self.requests: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._secrets: dict[str, _Secret] = {}
        self._deleted: dict[str, _Deleted] = {}
        self._faults: list[Fault] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.ca_path = Path()
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> KeyVaultEmulator:
        """Make the certificates and start serving on a free loopback port."""
        self._tmp = tempfile.TemporaryDirectory(prefix="helium-kv-")
        self.ca_path, cert, key = make_tls(Path(self._tmp.name))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        emulator = self

        class Handler(_Handler):
            pass

        Handler.emulator = emulator
        server = _TLSServer(("127.0.0.1", 0), Handler, context)
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1},
            name="keyvault-emulator", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the certificates."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> KeyVaultEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The vault URL to give the client (``https://127.0.0.1:<port>``)."""
        return f"https://127.0.0.1:{self.port}"

    # -- switches -------------------------------------------------------------------------

    def fail_next(
        self,
        status: int | None,
        count: int = 1,
        *,
        retry_after: int | None = None,
        code: str | None = None,
        methods: tuple[str, ...] | None = None,
        message: str | None = None,
        after: bool = False,
    ) -> None:
        """Answer the next ``count`` authenticated requests with an error instead.

        :param status: the HTTP status (429, 503, 500, ...), or ``None`` to drop the connection.
        :param retry_after: the Retry-After header, in seconds.
        :param code: the Key Vault error code (default: chosen from the status).
        :param methods: only requests with these HTTP methods are failed.
        :param message: the error message (services sometimes echo a request in it).
        :param after: carry the request out first, then fail its answer: with ``status=None``,
            a request that took effect but whose answer was lost.
        """
        fault = Fault(status, retry_after, code, frozenset(methods) if methods else None,
                      message, after)
        with self._lock:
            self._faults.extend([fault] * count)

    def clear_faults(self) -> int:
        """Forget the faults not used yet; return how many there were."""
        with self._lock:
            left = len(self._faults)
            self._faults.clear()
            return left

    def reset(self) -> None:
        """Forget every secret, deleted secret, fault and recorded request."""
        with self._lock:
            self._secrets.clear()
            self._deleted.clear()
            self._faults.clear()
            self.requests.clear()

    def secret_names(self) -> list[str]:
        """The names of the live secrets, as the service stores them."""
        with self._lock:
            return sorted(s.name for s in self._secrets.values())

    def deleted_names(self) -> list[str]:
        """The names in the deleted collection (deletion finished or not)."""
        with self._lock:
            return sorted(d.secret.name for d in self._deleted.values())

    def count(self, method: str | None = None, path_prefix: str = "") -> int:
        """How many authenticated requests matched ``method`` and ``path_prefix``."""
        with self._lock:
            return sum(
                1 for r in self.requests
                if r.authenticated and (method is None or r.method == method)
                and r.path.startswith(path_prefix)
            )

    # -- request handling (called from the handler threads) --------------------------------

    def _take_fault(self, method: str) -> Fault | None:
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.methods is None or method in fault.methods:
                    return self._faults.pop(index)
        return None

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def dispatch(
        self, method: str, path: str, query: dict[str, str], body: Any, host: str
    ) -> tuple[int, Any]:
        """Route one authenticated request; return (status, JSON body or None)."""
        base = f"https://{host}"
        parts = [unquote(p) for p in path.strip("/").split("/")] if path.strip("/") else []
        # GET /secrets/{name}/ (an empty version) means the current version, as /secrets/{name}.
        if path.endswith("/") and len(parts) == 2:
            parts.append("")
        with self._lock:
            if parts[:1] == ["secrets"]:
                return self._secrets_route(method, parts[1:], query, body, base)
            if parts[:1] == ["deletedsecrets"]:
                return self._deleted_route(method, parts[1:], query, base)
        raise _ApiError(404, "NotFound", "The requested resource was not found.")

    def _secrets_route(
        self, method: str, rest: list[str], query: dict[str, str], body: Any, base: str
    ) -> tuple[int, Any]:
        if not rest:
            if method == "GET":
                items = sorted(self._secrets.values(), key=lambda s: s.name.lower())
                return 200, self._page(
                    [self._item(s, s.versions[s.current], base, versioned=False) for s in items],
                    query, f"{base}/secrets",
                )
            raise _ApiError(405, "MethodNotAllowed", "The method is not allowed.")
        name = rest[0]
        self._check_name(name)
        if len(rest) == 1 and method == "PUT":
            return 200, self._set(name, body, base)
        if len(rest) == 1 and method == "DELETE":
            return 200, self._delete(name, base)
        if len(rest) == 2 and rest[1] == "versions" and method == "GET":
            secret = self._live(name)
            versions = sorted(secret.versions.values(), key=lambda v: v.id)
            return 200, self._page(
                [self._item(secret, v, base) for v in versions],
                query, f"{base}/secrets/{secret.name}/versions",
            )
        if len(rest) in (1, 2) and method in ("GET", "PATCH"):
            version = rest[1] if len(rest) == 2 else ""
            secret = self._live(name)
            ver = self._version(secret, version)
            if method == "PATCH":
                self._update(ver, body)
                return 200, self._bundle(secret, ver, base, with_value=False)
            self._check_readable(ver)
            return 200, self._bundle(secret, ver, base, with_value=True)
        raise _ApiError(405, "MethodNotAllowed", "The method is not allowed.")

    def _deleted_route(
        self, method: str, rest: list[str], query: dict[str, str], base: str
    ) -> tuple[int, Any]:
        if not self.soft_delete:
            raise _ApiError(
                400, "BadParameter", "Operation is not allowed: soft delete is not enabled."
            )
        if not rest:
            if method != "GET":
                raise _ApiError(405, "MethodNotAllowed", "The method is not allowed.")
            done = sorted(
                (d for d in self._deleted.values() if d.polls_left <= 0),
                key=lambda d: d.secret.name.lower(),
            )
            return 200, self._page(
                [self._deleted_item(d, base, bundle=False) for d in done],
                query, f"{base}/deletedsecrets",
            )
        name = rest[0]
        self._check_name(name)
        deleted = self._deleted.get(name.lower())
        if len(rest) == 1 and method == "GET":
            if deleted is None:
                raise self._deleted_not_found(name)
            if deleted.polls_left > 0:  # the deletion is still in progress
                deleted.polls_left -= 1
                raise self._deleted_not_found(name)
            return 200, self._deleted_item(deleted, base, bundle=True)
        if len(rest) == 1 and method == "DELETE":
            if deleted is None or deleted.polls_left > 0:
                raise self._deleted_not_found(name)
            if self.purge_protection:
                raise _ApiError(
                    403, "Forbidden",
                    "Operation \"purge\" is not allowed because purge protection is enabled for "
                    "this vault.",
                )
            del self._deleted[name.lower()]
            return 204, None
        if len(rest) == 2 and rest[1] == "recover" and method == "POST":
            if deleted is None or deleted.polls_left > 0:
                raise self._deleted_not_found(name)
            del self._deleted[name.lower()]
            secret = deleted.secret
            self._secrets[name.lower()] = secret
            return 200, self._bundle(secret, secret.versions[secret.current], base,
                                     with_value=False)
        raise _ApiError(405, "MethodNotAllowed", "The method is not allowed.")

    # -- operations -----------------------------------------------------------------------

    @staticmethod
    def _check_name(name: str) -> None:
        if not _NAME.fullmatch(name):
            raise _ApiError(
                400, "BadParameter",
                "The request URI contains an invalid name: secret names are 1-127 characters "
                "of letters, digits and dashes.",
            )

    @staticmethod
    def _deleted_not_found(name: str) -> _ApiError:
        return _ApiError(404, "SecretNotFound", f"Deleted Secret not found: {name}")

    def _live(self, name: str) -> _Secret:
        secret = self._secrets.get(name.lower())
        if secret is None:
            raise _not_found(name)
        return secret

    @staticmethod
    def _version(secret: _Secret, version: str) -> _Version:
        if not version:
            return secret.versions[secret.current]
        ver = secret.versions.get(version.lower())
        if ver is None:
            raise _not_found(secret.name, version)
        return ver

    def _check_readable(self, ver: _Version) -> None:
        if not ver.enabled:
            raise _ApiError(
                403, "Forbidden", "Operation get is not allowed on a disabled secret.",
                inner="SecretDisabled",
            )
        if self.enforce_dates:
            now = int(time.time())
            if ver.exp is not None and ver.exp <= now:
                raise _ApiError(
                    403, "Forbidden", "Operation get is not allowed on an expired secret.",
                    inner="SecretExpired",
                )
            if ver.nbf is not None and ver.nbf > now:
                raise _ApiError(
                    403, "Forbidden", "Operation get is not allowed on a not yet valid secret.",
                    inner="SecretNotYetValid",
                )

    @staticmethod
    def _attributes_in(body: dict[str, Any]) -> dict[str, Any]:
        attributes = body.get("attributes") or {}
        if not isinstance(attributes, dict):
            raise _ApiError(400, "BadParameter", "attributes must be an object.")
        for key in ("nbf", "exp"):
            if attributes.get(key) is not None and not isinstance(attributes[key], int):
                raise _ApiError(400, "BadParameter", f"attributes.{key} must be an integer.")
        return attributes

    @staticmethod
    def _tags_in(body: dict[str, Any]) -> dict[str, str] | None:
        tags = body.get("tags")
        if tags is None:
            return None
        if not isinstance(tags, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in tags.items()
        ):
            raise _ApiError(400, "BadParameter", "tags must map strings to strings.")
        if len(tags) > MAX_TAGS:
            raise _ApiError(400, "BadParameter", f"A secret may have at most {MAX_TAGS} tags.")
        if any(len(k) > 512 or len(v) > 512 for k, v in tags.items()):
            raise _ApiError(400, "BadParameter", "Tag names and values are at most 512 long.")
        return dict(tags)

    def _set(self, name: str, body: Any, base: str) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("value"), str):
            raise _ApiError(400, "BadParameter", "The request body must have a string value.")
        if name.lower() in self._deleted:
            raise _ApiError(
                409, "Conflict",
                f"Secret {name} is currently in a deleted but recoverable state, and its name "
                "cannot be reused; in this state, the secret can only be recovered or purged.",
            )
        value: str = body["value"]
        if len(value.encode("utf-8")) > MAX_VALUE_BYTES:
            raise _ApiError(
                400, "BadParameter",
                f"The secret value exceeds the maximum size of {MAX_VALUE_BYTES} bytes.",
            )
        content_type = body.get("contentType")
        if content_type is not None and (not isinstance(content_type, str)
                                         or len(content_type) > 255):
            raise _ApiError(400, "BadParameter", "contentType is a string of at most 255.")
        attributes = self._attributes_in(body)
        tags = self._tags_in(body)
        now = int(time.time())
        ver = _Version(
            id=uuid.uuid4().hex, value=value, content_type=content_type, tags=tags,
            enabled=attributes.get("enabled", True) is not False,
            nbf=attributes.get("nbf"), exp=attributes.get("exp"), created=now, updated=now,
        )
        secret = self._secrets.setdefault(name.lower(), _Secret(name=name))
        secret.versions[ver.id] = ver
        secret.current = ver.id
        return self._bundle(secret, ver, base, with_value=True)

    def _update(self, ver: _Version, body: Any) -> None:
        if not isinstance(body, dict):
            raise _ApiError(400, "BadParameter", "The request body must be an object.")
        attributes = self._attributes_in(body)
        if "enabled" in attributes and attributes["enabled"] is not None:
            ver.enabled = bool(attributes["enabled"])
        for key in ("nbf", "exp"):
            if key in attributes:
                setattr(ver, key, attributes[key])
        if "contentType" in body and body["contentType"] is not None:
            ver.content_type = body["contentType"]
        if body.get("tags") is not None:
            ver.tags = self._tags_in(body)
        ver.updated = int(time.time())

    def _delete(self, name: str, base: str) -> dict[str, Any]:
        secret = self._live(name)
        del self._secrets[name.lower()]
        now = int(time.time())
        if not self.soft_delete:
            return self._bundle(secret, secret.versions[secret.current], base, with_value=False)
        deleted = _Deleted(
            secret=secret,
            deleted_date=now,
            scheduled_purge_date=now + self.recoverable_days * 86400,
            polls_left=self.deletion_polls,
        )
        self._deleted[name.lower()] = deleted
        return self._deleted_item(deleted, base, bundle=True)

    # -- JSON shapes ----------------------------------------------------------------------

    def _attributes_out(self, ver: _Version) -> dict[str, Any]:
        out: dict[str, Any] = {
            "enabled": ver.enabled,
            "created": ver.created,
            "updated": ver.updated,
            "recoveryLevel": (
                ("Recoverable" if self.purge_protection else "Recoverable+Purgeable")
                if self.soft_delete else "Purgeable"
            ),
        }
        if self.soft_delete:
            out["recoverableDays"] = self.recoverable_days
        if ver.nbf is not None:
            out["nbf"] = ver.nbf
        if ver.exp is not None:
            out["exp"] = ver.exp
        return out

    def _item(
        self, secret: _Secret, ver: _Version, base: str, *, versioned: bool = True
    ) -> dict[str, Any]:
        # List items carry the secret id (no version) for /secrets, the version id for versions.
        secret_id = f"{base}/secrets/{secret.name}"
        item: dict[str, Any] = {
            "id": f"{secret_id}/{ver.id}" if versioned else secret_id,
            "attributes": self._attributes_out(ver),
            "managed": False,
        }
        if ver.tags is not None:
            item["tags"] = dict(ver.tags)
        if ver.content_type is not None:
            item["contentType"] = ver.content_type
        return item

    def _bundle(
        self, secret: _Secret, ver: _Version, base: str, *, with_value: bool
    ) -> dict[str, Any]:
        bundle = self._item(secret, ver, base)
        del bundle["managed"]
        if with_value:
            bundle["value"] = ver.value
        return bundle

    def _deleted_item(self, deleted: _Deleted, base: str, *, bundle: bool) -> dict[str, Any]:
        secret = deleted.secret
        ver = secret.versions[secret.current]
        out = self._bundle(secret, ver, base, with_value=False) if bundle else self._item(
            secret, ver, base
        )
        if not bundle:
            out["id"] = f"{base}/secrets/{secret.name}"
        out["recoveryId"] = f"{base}/deletedsecrets/{secret.name}"
        out["deletedDate"] = deleted.deleted_date
        out["scheduledPurgeDate"] = deleted.scheduled_purge_date
        return out

    def _page(self, items: list[dict[str, Any]], query: dict[str, str], url: str) -> dict[str, Any]:
        try:
            size = int(query.get("maxresults", MAX_PAGE))
            token = query.get("$skiptoken")
            start = json.loads(base64.b64decode(token))["NextMarker"] if token else 0
        except (ValueError, KeyError, TypeError):
            raise _ApiError(400, "BadParameter", "Invalid maxresults or $skiptoken.") from None
        if not 1 <= size <= MAX_PAGE:
            raise _ApiError(400, "BadParameter", f"maxresults must be between 1 and {MAX_PAGE}.")
        size = min(size, self.page_size)
        page = items[start:start + size]
        end = start + size
        next_link = None
        if end < len(items):
            version = query.get("api-version", "7.4")
            # Like the service's: an opaque base64 token (padding and all) and an explicit port.
            token = base64.b64encode(json.dumps({"NextMarker": end}).encode()).decode()
            next_link = f"{url}?api-version={version}&$skiptoken={token}&maxresults={size}"
        return {"value": page, "nextLink": next_link}

    # -- direct state changes for tests ---------------------------------------------------

    def iter_versions(self, name: str) -> Iterator[tuple[str, str]]:
        """Yield (version id, value) of a live secret (for tests checking what was stored)."""
        with self._lock:
            secret = self._live(name)
            items = [(v.id, v.value) for v in secret.versions.values()]
        yield from items


class _TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
        context: ssl.SSLContext,
    ) -> None:
        self.context = context
        super().__init__(address, handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake runs here, in the connection's own thread, not in accept().
        request.settimeout(60)
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every answer.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # dropped connections are expected in fault tests


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    emulator: KeyVaultEmulator
    server_version = "helium-keyvault-emulator"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines would include secret names; keep test output quiet

    def _handle(self) -> None:
        emulator = self.emulator
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(split.query).items()}
        authorization = self.headers.get("Authorization", "")
        authenticated = authorization == f"Bearer {emulator.token}"
        if emulator.latency:
            time.sleep(emulator.latency)
        if not authenticated:
            emulator._record(RequestRecord(self.command, split.path, 401, False))
            challenge = (
                f'Bearer authorization="https://login.microsoftonline.com/{emulator.tenant}", '
                f'resource="{_RESOURCE}"'
            )
            message = (
                "AKV10000: Request is missing a Bearer or PoP token." if not authorization
                else "AKV10022: Invalid audience or token."
            )
            self._error(_ApiError(401, "Unauthorized", message,
                                  headers={"WWW-Authenticate": challenge}))
            return
        fault = emulator._take_fault(self.command)
        if fault is not None and not fault.after:
            emulator._record(RequestRecord(self.command, split.path, fault.status, True))
            self._fail(fault)
            return
        try:
            if "api-version" not in query:
                raise _ApiError(400, "BadParameter", "The api-version query parameter is missing.")
            body = json.loads(raw) if raw else None
            status, payload = emulator.dispatch(
                self.command, split.path, query, body, self.headers.get("Host", "127.0.0.1")
            )
        except _ApiError as exc:
            emulator._record(RequestRecord(self.command, split.path, exc.status, True))
            self._error(exc)
            return
        except ValueError:
            emulator._record(RequestRecord(self.command, split.path, 400, True))
            self._error(_ApiError(400, "BadParameter", "The request body is not valid JSON."))
            return
        emulator._record(RequestRecord(self.command, split.path, status, True))
        if fault is not None:  # done; the answer is lost
            self._fail(fault)
            return
        self._send(status, payload)

    def _fail(self, fault: Fault) -> None:
        if fault.status is None:
            self.close_connection = True
            self.connection.shutdown(2)  # no answer at all: a dropped connection
            return
        self._error(self._fault_error(fault))

    @staticmethod
    def _fault_error(fault: Fault) -> _ApiError:
        headers = {}
        if fault.retry_after is not None:
            headers["Retry-After"] = str(fault.retry_after)
        status = fault.status or 500
        if status == 429:
            return _ApiError(
                429, fault.code or "Throttled",
                fault.message
                or "Request was not processed because too many requests were received.",
                headers=headers,
            )
        if status == 503:
            return _ApiError(503, fault.code or "ServiceUnavailable",
                             fault.message or "The service is temporarily unavailable.",
                             headers=headers)
        return _ApiError(status, fault.code or "InternalServerError",
                         fault.message or "An injected failure.", headers=headers)

    def _error(self, exc: _ApiError) -> None:
        error: dict[str, Any] = {"code": exc.code, "message": exc.message}
        if exc.inner:
            error["innererror"] = {"code": exc.inner}
        self._send(exc.status, {"error": error}, exc.headers)

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-ms-keyvault-service-version", "1.9.0.0")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if data:
            self.wfile.write(data)

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST = _handle
