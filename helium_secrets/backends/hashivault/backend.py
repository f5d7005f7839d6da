"""The Vault / OpenBao backend: KV v2 (or v1) reads, writes, the staging companion and version
extras."""

from __future__ import annotations

import collections
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import threading
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar
from urllib.parse import SplitResult

import hvac
import hvac.exceptions
import requests
import requests.adapters

from helium_secrets._options import build, parse, query_flag, query_of
from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import (
    BackendBase,
    Capabilities,
    Classified,
    LeaseGrant,
    RawSecret,
    RequestTokens,
    extra_operation,
)
from helium_secrets.backends._display import shown_address
from helium_secrets.backends._transport import refuse_cross_origin_redirects
from helium_secrets.backends.hashivault import leases
from helium_secrets.backends.hashivault.auth import auth_from_query, resolve_auth
from helium_secrets.backends.hashivault.classify import classify as classify_error
from helium_secrets.backends.hashivault.classify import is_cas_mismatch
from helium_secrets.backends.hashivault.diagnose import relative_name_hint, setup_problem
from helium_secrets.backends.hashivault.kv import (
    cas_failure,
    check_custom_metadata,
    custom_metadata,
    decode,
    encode,
    parse_duration,
    parse_time,
    version_number,
    version_state,
)
from helium_secrets.backends.hashivault.options import (
    DEFAULT_PORT,
    VaultOptions,
    build_client,
    check_address,
)
from helium_secrets.backends.hashivault.tokens import TokenSession
from helium_secrets.errors import (
    ConflictError,
    InvalidArgumentError,
    SecretNotFoundError,
    UnsupportedError,
    VersionNotFoundError,
)
from helium_secrets.lifecycle import Lifecycle

__all__ = ["STAGED_SUFFIX", "VaultBackend"]

T = TypeVar("T")
_log = logging.getLogger("helium_secrets.vault")

#: KV v2 custom metadata limits (Vault and OpenBao refuse more): keys per secret, and the
#: UTF-8 bytes of a key and of a value. Keys and values must also be non-empty and printable.
MAX_METADATA_KEYS = 64
MAX_METADATA_KEY_BYTES = 128
MAX_METADATA_VALUE_BYTES = 512
#: How many times in a row other writers may win the race between a plain put's read of the
#: current version and its check-and-set write before the put gives up. Each lost round means
#: another writer's version landed; the threads of one process never race (they queue).
PLAIN_PUT_ROUNDS = 100

#: A per-process key for KV v1 version ids (content digests that must not reveal the value).
_V1_DIGEST_KEY = secrets.token_bytes(32)
#: The store stages a value at NAME + this suffix. ``~`` is not in any portable name, so the
#: companion path never collides with a secret, and listing leaves it out.
STAGED_SUFFIX = "~staged"


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
        self.auth = resolve_auth(opts.auth, token)
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
            staging=False,
            staging_companion=v2,  # see staging_companion
            sequential_versions=v2,
            max_metadata_keys=MAX_METADATA_KEYS if v2 else None,
            max_metadata_key_bytes=MAX_METADATA_KEY_BYTES if v2 else None,
            max_metadata_value_bytes=MAX_METADATA_VALUE_BYTES if v2 else None,
            leases=True,
        )
        if client is None:
            client = build_client(opts)
        else:
            check_address(client.url, opts)
        # requests would follow a redirect anywhere, X-Vault-Token and body included.
        refuse_cross_origin_redirects(client.adapter.session)
        self._session = TokenSession(client, self.auth)
        client.adapter.session.hooks["response"].append(self._session.on_response)
        self._client = client
        #: The mount's KV version as the server describes it (0: not asked yet; None:
        #: unknown), asked on the error path only (see hashivault/diagnose.py).
        self._mount_version: int | None = 0
        self.address: str = client.url
        self.namespace = client.adapter.namespace

        # Request tokens of recent puts -> what their retries need (see _put_v2).
        self._put_tokens: RequestTokens[_PutAttempt] = RequestTokens()
        self._name_locks = _NameLocks()

    def __repr__(self) -> str:
        namespace = f" namespace={self.namespace!r}" if self.namespace else ""
        return (f"<VaultBackend {shown_address(self.address)} mount={self.mount!r} "
                f"kv=v{self.kv_version}{namespace} auth={self.auth.method}>")

    # -- construction ----------------------------------------------------------------------

    @property
    def options(self) -> VaultOptions:
        """The resolved options (read-only)."""
        return self._options

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
            derived["auth"] = auth_from_query(method, query)
        stray = sorted(set(query) & set(VaultOptions.url_extras))
        if stray:
            raise ValueError(
                f"the vault:// URL option(s) {', '.join(stray)} do not apply to "
                + (f"auth={method}" if method is not None else "a URL without auth=")
            )
        return cls(options=parse(VaultOptions, keywords=keywords, query=query, url=derived))

    # -- the protocol ----------------------------------------------------------------------

    def _op(self, fn: Callable[[], T]) -> T:
        """Run one request; a 404 that shows a misconfiguration (no such mount or namespace,
        the other KV version) is an :class:`InvalidArgumentError` saying so."""
        try:
            return self._session.run(fn)
        except hvac.exceptions.InvalidPath as exc:
            problem = setup_problem(exc, address=self.address, mount=self.mount,
                                    kv_version=self.kv_version, namespace=self.namespace,
                                    mount_version=self._described_version)
            if problem is None:
                raise
            raise InvalidArgumentError(problem) from exc

    def _described_version(self) -> int | None:
        if self._mount_version == 0:
            self._mount_version = None
            try:
                # Straight to the adapter: the failed call just proved the token; a 403 here
                # (the default policy does not allow it) only means "unknown".
                answer = self._client.adapter.get(f"/v1/sys/internal/ui/mounts/{self.mount}")
                mount = (answer or {}).get("data") or {}
                if mount.get("type") in ("kv", "generic"):  # no options.version: version 1
                    version = str((mount.get("options") or {}).get("version") or "1")
                    self._mount_version = int(version) if version.isdigit() else None
            except (hvac.exceptions.VaultError, requests.RequestException, AttributeError):
                pass
        return self._mount_version

    def _not_found(self, name: str) -> SecretNotFoundError:
        hint = relative_name_hint(name, self.mount)
        return SecretNotFoundError("secret not found" + (f"; {hint}" if hint else ""))

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
            number = version_number(version)
            if number is None:
                raise VersionNotFoundError("Vault KV versions are positive integers")
        # A 404 (no such secret, or no such version: the store asks which) is raised.
        try:
            response = self._op(lambda: self._kv2.read_secret_version(
                name, version=number, mount_point=self.mount, raise_on_deleted_version=False,
            ))
        except hvac.exceptions.InvalidPath as exc:
            if relative_name_hint(name, self.mount) is None:
                raise
            raise self._not_found(name) from exc
        body = response["data"]
        meta = body.get("metadata") or {}
        if body.get("data") is None:
            state = version_state(meta)
            if number is None:
                raise SecretNotFoundError(f"the current version is {state}")
            raise VersionNotFoundError(f"the version is {state}")
        return RawSecret(
            name=name,
            value=decode(body["data"]),
            version=str(meta.get("version")),
            created_at=parse_time(meta.get("created_time")),
            metadata=MappingProxyType(dict(meta.get("custom_metadata") or {})),
        )

    def _get_v1(self, name: str, version: str | None) -> RawSecret:
        try:
            current = self._current_v1(name)  # its repr hides the value; the raw data is gone
        except hvac.exceptions.InvalidPath as exc:
            if relative_name_hint(name, self.mount) is None:
                raise
            raise self._not_found(name) from exc
        if version is not None and version != current.version:
            raise VersionNotFoundError("KV version 1 keeps only the current value")
        return current

    def _current_v1(self, name: str) -> RawSecret:
        data = self._op(lambda: self._kv1.read_secret(name, mount_point=self.mount))["data"]
        return RawSecret(name=name, value=decode(data), version=self._v1_version(data))

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
        hint = relative_name_hint(name, self.mount)
        if hint is not None:  # a valid name, but seldom the one meant
            warnings.warn(f"Vault put: {hint}", UserWarning, stacklevel=2)
        data = encode(value)
        if self.kv_version == 1:
            # No check-and-set on v1 (capabilities.check_and_set is False): the store
            # compares the current version first and passes neither option here.
            if metadata:
                raise UnsupportedError("KV version 1 keeps no custom metadata")
            self._op(lambda: self._kv1.create_or_update_secret(
                name, secret=data, mount_point=self.mount))
            return VersionInfo(version=self._v1_version(data))

        if metadata:
            check_custom_metadata(metadata)
        expected: int | None = 0 if create_only else None
        if expected_version is not None:
            expected = version_number(expected_version)
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
        attempt = self._put_tokens.get(request_token)
        retried = attempt is not None
        base = attempt.base if attempt is not None else expected  # None: read it
        for _ in range(PLAIN_PUT_ROUNDS):
            settings = None
            if metadata is not None or base is None:
                settings = self._metadata_or_none(name)
            current = int((settings or {}).get("current_version") or 0)
            if attempt is None:  # the first attempt: what a failure puts back
                before = custom_metadata(settings) if settings is not None else None
            else:
                before = attempt.before
            if base is None:
                base = current
            attempt = _PutAttempt(base=base, before=before)
            self._put_tokens.remember(request_token, attempt)
            if metadata is not None:
                if expected is not None and current != expected and not retried:
                    raise ConflictError(cas_failure(expected))  # nothing written yet
                try:
                    self._merge_custom_metadata(name, settings, metadata)
                except (hvac.exceptions.VaultError, InvalidArgumentError):
                    self._undo_metadata(name, metadata, before)  # what earlier rounds wrote
                    raise
            try:
                response = self._op(lambda b=base: self._kv2.create_or_update_secret(  # type: ignore[misc]
                    name, secret=data, cas=b, mount_point=self.mount))
            except hvac.exceptions.InvalidRequest as exc:
                if not is_cas_mismatch(exc):
                    self._undo_metadata(name, metadata, before)
                    raise
                if retried:
                    mine = self._version_if_ours(name, base + 1, data)
                    if mine is not None:
                        return mine
                if expected is not None:
                    self._undo_metadata(name, metadata, before)
                    raise ConflictError(cas_failure(expected)) from exc
                base, retried = None, False  # another writer got in: write on top of it
                continue
            except hvac.exceptions.VaultError:
                self._undo_metadata(name, metadata, before)  # refused: the value is not written
                raise
            written = response["data"]
            return VersionInfo(version=str(written["version"]),
                               created_at=parse_time(written.get("created_time")))
        raise ConflictError("other writers kept changing the secret under a plain put")

    def _metadata_or_none(self, name: str) -> Mapping[str, Any] | None:
        try:
            return self._metadata(name)
        except hvac.exceptions.InvalidPath:
            return None

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
        return VersionInfo(version=str(number), created_at=parse_time(meta.get("created_time")))

    def _merge_custom_metadata(self, name: str, settings: Mapping[str, Any] | None,
                               metadata: Mapping[str, str]) -> None:
        """Merge ``metadata`` into the custom metadata in ``settings`` (the secret's metadata
        as just read; ``None``: no secret yet), unless it is there already."""
        current = custom_metadata(settings) if settings is not None else {}
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
            if settings is None or custom_metadata(settings) == (before or {}):
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
                created_at=parse_time(info.get("created_time")),
                state=version_state(info),
            )
            for number, info in sorted(versions.items(), key=lambda item: int(item[0]))
        ]

    def current_version(self, name: str) -> str | VersionInfo:
        if self.kv_version == 1:
            return self._get_v1(name, None).version
        meta = self._metadata(name)
        current = str(meta.get("current_version") or 0)
        info = (meta.get("versions") or {}).get(current)
        if info is None:
            raise SecretNotFoundError("the secret has no current version")
        state = version_state(info)
        if state != "enabled":
            # The secret exists (its older versions may be readable): the store's read path
            # relies on this to tell a missing version from a missing secret.
            raise VersionNotFoundError(f"the current version is {state}")
        # With its creation time: a secret deleted and created again starts again at "1".
        return VersionInfo(current, created_at=parse_time(info.get("created_time")))

    def staging_companion(self, name: str) -> str:
        # The store stages a pending value here (KV v2 has no version that exists without
        # being current): NAME~staged, beside the secret, with its own versions and metadata.
        return name + STAGED_SUFFIX

    @property
    def logins(self) -> int:
        """Successful logins (a plain token counts once per time it is (re)loaded)."""
        return self._session.logins

    @property
    def renewals(self) -> int:
        """Successful token renewals."""
        return self._session.renewals

    def issue_lease(self, path: str) -> LeaseGrant:
        return leases.issue(self._session.run, self._client, path)

    def renew_lease(self, lease_id: str, increment: float | None) -> LeaseGrant:
        return leases.renew(self._session.run, self._client, lease_id, increment)

    def revoke_lease(self, lease_id: str) -> None:
        leases.revoke(self._session.run, self._client, lease_id)

    def lease_upkeep_due(self) -> float:
        # The leases are the token's children: they die with it (see hashivault/leases.py).
        return self._session.upkeep_due()

    def lease_upkeep(self) -> None:
        self._session.keep_alive()

    def classify(self, exc: BaseException) -> Classified | None:
        return classify_error(exc, self.address)

    def close(self) -> None:
        self._client.adapter.close()

    # -- Vault specifics (not in the protocol) ---------------------------------------------

    def _require_v2(self, what: str) -> None:
        if self.kv_version != 2:
            raise UnsupportedError(f"{what} needs a KV version 2 mount", backend=self.name)

    @extra_operation(writes=True)
    def delete_latest_version(self, name: str) -> None:
        """Soft-delete only the current version (KV v2); :meth:`undelete_versions` undoes it.

        ``SecretStore.delete`` removes the whole secret and its history instead.
        """
        self._require_v2("deleting one version")
        self._metadata(name)  # a missing secret is "not found", as for every other call
        self._op(lambda: self._kv2.delete_latest_version_of_secret(name, mount_point=self.mount))

    @extra_operation(writes=True)
    def undelete_versions(self, name: str, versions: Sequence[str]) -> None:
        """Restore soft-deleted versions (KV v2)."""
        self._require_v2("undeleting versions")
        numbers = self._version_numbers(versions)
        self._op(lambda: self._kv2.undelete_secret_versions(name, numbers, mount_point=self.mount))

    @extra_operation(writes=True)
    def destroy_versions(self, name: str, versions: Sequence[str]) -> None:
        """Destroy versions for good: their data is removed, the metadata stays (KV v2)."""
        self._require_v2("destroying versions")
        numbers = self._version_numbers(versions)
        self._op(lambda: self._kv2.destroy_secret_versions(name, numbers, mount_point=self.mount))

    @staticmethod
    def _version_numbers(versions: Sequence[str]) -> list[int]:
        if isinstance(versions, str):
            raise InvalidArgumentError("versions is a list of version ids, not one string")
        numbers = [version_number(v) if isinstance(v, str) else None for v in versions]
        if any(n is None for n in numbers):
            raise InvalidArgumentError("KV v2 version ids are whole numbers ('3')")
        return [n for n in numbers if n is not None]

    @extra_operation(writes=False)
    def describe(self, name: str) -> Lifecycle:
        """The secret's lifecycle from its KV v2 metadata (no value read): ``created_time``,
        the current version's ``created_time`` (when the value last changed),
        ``current_version``, the versions kept, and the expiry ``delete_version_after`` sets
        on the current version. Vault tracks no rotations and no reads."""
        self._require_v2("describing a secret")
        meta = self._metadata(name)
        current = str(meta.get("current_version") or "")
        versions = meta.get("versions") or {}
        written = parse_time((versions.get(current) or {}).get("created_time"))
        keep = parse_duration(meta.get("delete_version_after"))
        return Lifecycle(
            name, _DESCRIBED, created_at=parse_time(meta.get("created_time")), updated_at=written,
            expires_at=written + keep if written is not None and keep else None,
            current_version=current or None, versions=len(versions))


#: What KV v2 metadata tells.
_DESCRIBED = frozenset({"created_at", "updated_at", "expires_at", "current_version", "versions"})
