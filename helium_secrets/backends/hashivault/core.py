"""The KV operations, I/O-free: what to ask Vault and what its answers mean, written once for
:class:`~.backend.VaultBackend` (hvac) and :class:`~.aio.AsyncVaultBackend` (httpx).

Each operation is a generator of :class:`Call` steps (see :mod:`helium_secrets.backends._steps`):
the backend sends each request through its own client and token session and returns the
answer's JSON (``None`` for an empty answer), or raises the error hvac's exception classes
name for the answer's status (both backends raise them: they are the vocabulary
:mod:`.classify` and :mod:`.diagnose` read).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import quote

import hvac.exceptions

from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import Capabilities, RawSecret, RequestTokens
from helium_secrets.backends._steps import Steps
from helium_secrets.backends.hashivault.classify import is_cas_mismatch
from helium_secrets.backends.hashivault.diagnose import (
    answered_problem,
    relative_name_hint,
    version_mismatch,
)
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
from helium_secrets.errors import (
    ConflictError,
    InvalidArgumentError,
    SecretNotFoundError,
    UnsupportedError,
    VersionNotFoundError,
)
from helium_secrets.lifecycle import Lifecycle

__all__ = ["MAX_METADATA_KEYS", "PLAIN_PUT_ROUNDS", "STAGED_SUFFIX", "Call", "VaultKV",
           "capabilities", "vault_path"]

T = TypeVar("T")
_log = logging.getLogger("helium_secrets.vault")

#: KV v2 custom metadata limits (Vault and OpenBao refuse more): keys per secret, and the
#: UTF-8 bytes of a key and of a value. Keys and values must also be non-empty and printable.
MAX_METADATA_KEYS = 64
MAX_METADATA_KEY_BYTES = 128
MAX_METADATA_VALUE_BYTES = 512
#: How many times in a row other writers may win the race between a plain put's read of the
#: current version and its check-and-set write before the put gives up. Each lost round means
#: another writer's version landed; the writers of one backend never race (they queue).
PLAIN_PUT_ROUNDS = 100
#: The store stages a value at NAME + this suffix. ``~`` is not in any portable name, so the
#: companion path never collides with a secret, and listing leaves it out.
STAGED_SUFFIX = "~staged"

#: A per-process key for KV v1 version ids (content digests that must not reveal the value).
_V1_DIGEST_KEY = secrets.token_bytes(32)


@dataclass(frozen=True, slots=True)
class Call:
    """One request to Vault's HTTP API.

    :param method: ``GET``, ``POST``, ``PUT``, ``DELETE`` or ``LIST``.
    :param path: below ``/v1/``, its parts already quoted (:func:`vault_path`).
    :param params: the query.
    :param body: the JSON body (may hold a value or a credential: never shown).
    :param direct: sent as it is, without the token session's upkeep and re-login (a probe
        on the error path, made with the token that just worked).
    """

    method: str
    path: str
    params: Mapping[str, Any] | None = None
    body: Mapping[str, Any] | None = field(default=None, repr=False)
    direct: bool = False


def vault_path(template: str, **parts: str) -> str:
    """``template`` with its ``{parts}`` quoted as hvac quotes them (``/`` kept)."""
    return template.format(**{key: quote(str(value).encode("utf-8"))
                              for key, value in parts.items()})


def capabilities(kv_version: int, max_value_bytes: int) -> Capabilities:
    """What a backend on a KV mount of ``kv_version`` can do."""
    v2 = kv_version == 2
    return Capabilities(
        binary=True,
        versions=v2,
        labels=False,
        max_value_bytes=max_value_bytes,
        version_probe=v2,
        batch_get=0,
        # v2: a retried put is recognised (see put); v1: a put is a plain overwrite.
        idempotent_put=True,
        check_and_set=v2,
        staging=False,
        staging_companion=v2,  # see VaultKV.staging_companion
        sequential_versions=v2,
        max_metadata_keys=MAX_METADATA_KEYS if v2 else None,
        max_metadata_key_bytes=MAX_METADATA_KEY_BYTES if v2 else None,
        max_metadata_value_bytes=MAX_METADATA_VALUE_BYTES if v2 else None,
        leases=True,
    )


@dataclass(frozen=True)
class _PutAttempt:
    """What a put's request token remembers for its retries."""

    #: The version its value write is checked against.
    base: int
    #: The custom metadata before the put (what a refused write puts back); ``None``: there
    #: was no secret.
    before: dict[str, str] | None


def _deleted_answer(exc: hvac.exceptions.InvalidPath) -> Mapping[str, Any] | None:
    """The answer of a 404 for a soft-deleted version, which still describes it (as hvac's
    ``raise_on_deleted_version=False`` returns it); ``None`` for any other 404."""
    body = exc.json
    try:
        if isinstance(body, Mapping) and body["data"]["metadata"]["deletion_time"] != "":
            return body
    except (KeyError, TypeError):
        pass
    return None


class VaultKV:
    """The KV operations on one mount, as :class:`Call` steps. Names are portable names.

    It remembers what a retried put needs (by request token) and the mount's KV version once
    asked: one per backend, shared by its callers (a generator changes it only between steps,
    which the caller runs one at a time: threads hold a per-name lock around a put, tasks run
    between awaits).
    """

    def __init__(self, *, mount: str, kv_version: int, address: str,
                 namespace: str | None) -> None:
        self.mount = mount
        self.kv_version = kv_version
        self.address = address
        self.namespace = namespace
        #: The mount's KV version as the server describes it (0: not asked yet; None:
        #: unknown), asked on the error path only (see diagnose.py).
        self._mount_version: int | None = 0
        #: Request tokens of recent puts -> what their retries need (see _put_v2).
        self._put_tokens: RequestTokens[_PutAttempt] = RequestTokens()

    # -- requests --------------------------------------------------------------------------

    def _kv_path(self, kind: str, name: str) -> str:
        """``MOUNT/KIND/NAME`` (v2) or ``MOUNT/NAME`` (v1, ``kind`` empty)."""
        if kind:
            return vault_path("{mount}/{kind}/{name}", mount=self.mount, kind=kind, name=name)
        return vault_path("{mount}/{name}", mount=self.mount, name=name)

    def _call(self, call: Call, *, deleted_ok: bool = False) -> Steps[Call, Any]:
        """One request; a 404 that shows a misconfiguration (no such mount or namespace, the
        other KV version) is an :class:`InvalidArgumentError` saying so.

        :param deleted_ok: a soft-deleted version's 404 is its answer.
        """
        try:
            return (yield call)
        except hvac.exceptions.InvalidPath as exc:
            answer = _deleted_answer(exc) if deleted_ok else None
            if answer is not None:
                return answer
            problem = answered_problem(exc, address=self.address, mount=self.mount,
                                       kv_version=self.kv_version, namespace=self.namespace)
            if problem is None and self.kv_version == 2:
                problem = version_mismatch((yield from self._described_version()),
                                           address=self.address, mount=self.mount,
                                           namespace=self.namespace)
            if problem is None:
                raise
            raise InvalidArgumentError(problem) from exc

    def _described_version(self) -> Steps[Call, int | None]:
        if self._mount_version == 0:
            self._mount_version = None
            try:
                # Direct: the failed call just proved the token; a 403 here (the default
                # policy does not allow it) only means "unknown".
                answer = yield Call("GET", vault_path("sys/internal/ui/mounts/{mount}",
                                                      mount=self.mount), direct=True)
                mount = (answer or {}).get("data") or {}
                if mount.get("type") in ("kv", "generic"):  # no options.version: version 1
                    version = str((mount.get("options") or {}).get("version") or "1")
                    self._mount_version = int(version) if version.isdigit() else None
            except Exception as exc:  # best effort: any failure means "unknown"
                _log.debug("describing the mount %r failed (%s)", self.mount,
                           type(exc).__name__)
        return self._mount_version

    def _not_found(self, name: str) -> SecretNotFoundError:
        hint = relative_name_hint(name, self.mount)
        return SecretNotFoundError("secret not found" + (f"; {hint}" if hint else ""))

    def _metadata(self, name: str) -> Steps[Call, Mapping[str, Any]]:
        response = yield from self._call(Call("GET", self._kv_path("metadata", name)))
        data: Mapping[str, Any] = response["data"]
        return data

    def _metadata_or_none(self, name: str) -> Steps[Call, Mapping[str, Any] | None]:
        try:
            return (yield from self._metadata(name))
        except hvac.exceptions.InvalidPath:
            return None

    def _read_version(self, name: str, number: int | None) -> Steps[Call, Any]:
        params = {"version": number} if number is not None else None
        return (yield from self._call(Call("GET", self._kv_path("data", name), params),
                                      deleted_ok=True))

    # -- the protocol ----------------------------------------------------------------------

    def get(self, name: str, version: str | None, label: str | None) -> Steps[Call, RawSecret]:
        if label is not None:
            raise UnsupportedError("Vault KV has no labels")
        if self.kv_version == 1:
            return (yield from self._get_v1(name, version))
        number = None
        if version is not None:
            number = version_number(version)
            if number is None:
                raise VersionNotFoundError("Vault KV versions are positive integers")
        # A 404 (no such secret, or no such version: the store asks which) is raised.
        try:
            response = yield from self._read_version(name, number)
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

    def _get_v1(self, name: str, version: str | None) -> Steps[Call, RawSecret]:
        try:
            current = yield from self._current_v1(name)  # its repr hides the value
        except hvac.exceptions.InvalidPath as exc:
            if relative_name_hint(name, self.mount) is None:
                raise
            raise self._not_found(name) from exc
        if version is not None and version != current.version:
            raise VersionNotFoundError("KV version 1 keeps only the current value")
        return current

    def _current_v1(self, name: str) -> Steps[Call, RawSecret]:
        data = (yield from self._call(Call("GET", self._kv_path("", name))))["data"]
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
        expected_version: str | None,
        create_only: bool,
        request_token: str | None,
        metadata: Mapping[str, str] | None,
        labels: Sequence[str],
    ) -> Steps[Call, VersionInfo]:
        """A put; its caller runs one put per name at a time (see the backends)."""
        if labels:
            raise UnsupportedError("Vault KV has no labels")
        hint = relative_name_hint(name, self.mount)
        if hint is not None:  # a valid name, but seldom the one meant
            # The frames up: this generator, the driver, the backend's put, its caller.
            warnings.warn(f"Vault put: {hint}", UserWarning, stacklevel=4)
        data = encode(value)
        if self.kv_version == 1:
            # No check-and-set on v1 (capabilities.check_and_set is False): the store
            # compares the current version first and passes neither option here.
            if metadata:
                raise UnsupportedError("KV version 1 keeps no custom metadata")
            yield from self._call(Call("POST", self._kv_path("", name), body=data))
            return VersionInfo(version=self._v1_version(data))

        if metadata:
            check_custom_metadata(metadata)
        expected: int | None = 0 if create_only else None
        if expected_version is not None:
            expected = version_number(expected_version)
            if expected is None or create_only:
                raise ConflictError("check-and-set failed: no such version")
        return (yield from self._put_v2(name, data, expected=expected,
                                        request_token=request_token, metadata=metadata or None))

    # A KV v2 put takes up to two writes: custom metadata, then the value. They go in that
    # order because only the metadata write can be undone: if the value is refused, the old
    # metadata is put back, so a put either lands whole or leaves the secret as it was; a
    # value written and then refused metadata could not be taken back. A write whose outcome
    # is unknown (no answer) is left to the store's retry of the whole put, which is safe:
    # the metadata write is idempotent and the value write is check-and-set against the
    # version the first attempt saw (the request token remembers it), so a retry whose first
    # attempt landed conflicts, finds its own value in the next version and returns that.

    def _put_v2(self, name: str, data: Mapping[str, str], *, expected: int | None,
                request_token: str | None, metadata: Mapping[str, str] | None
                ) -> Steps[Call, VersionInfo]:
        """Write ``data`` (checked against ``expected``; ``None``: a plain put) and merge
        ``metadata`` into the secret's custom metadata, all or nothing."""
        attempt = self._put_tokens.get(request_token)
        retried = attempt is not None
        base = attempt.base if attempt is not None else expected  # None: read it
        for _ in range(PLAIN_PUT_ROUNDS):
            settings = None
            if metadata is not None or base is None:
                settings = yield from self._metadata_or_none(name)
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
                    yield from self._merge_custom_metadata(name, settings, metadata)
                except (hvac.exceptions.VaultError, InvalidArgumentError):
                    yield from self._undo_metadata(name, metadata, before)  # earlier rounds'
                    raise
            try:
                response = yield from self._call(Call(
                    "POST", self._kv_path("data", name),
                    body={"options": {"cas": base}, "data": data}))
            except hvac.exceptions.InvalidRequest as exc:
                if not is_cas_mismatch(exc):
                    yield from self._undo_metadata(name, metadata, before)
                    raise
                if retried:
                    mine = yield from self._version_if_ours(name, base + 1, data)
                    if mine is not None:
                        return mine
                if expected is not None:
                    yield from self._undo_metadata(name, metadata, before)
                    raise ConflictError(cas_failure(expected)) from exc
                base, retried = None, False  # another writer got in: write on top of it
                continue
            except hvac.exceptions.VaultError:
                yield from self._undo_metadata(name, metadata, before)  # the value is refused
                raise
            written = response["data"]
            return VersionInfo(version=str(written["version"]),
                               created_at=parse_time(written.get("created_time")))
        raise ConflictError("other writers kept changing the secret under a plain put")

    def _version_if_ours(self, name: str, number: int, data: Mapping[str, str]
                         ) -> Steps[Call, VersionInfo | None]:
        try:
            response = yield from self._read_version(name, number)
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
                               metadata: Mapping[str, str]) -> Steps[Call, None]:
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
        yield from self._write_custom_metadata(name, merged, settings)

    def _write_custom_metadata(self, name: str, custom: Mapping[str, str],
                               settings: Mapping[str, Any] | None) -> Steps[Call, None]:
        # A metadata write without delete_version_after would clear the secret's own
        # setting: send back the one just read. Other settings are left alone.
        keep = str((settings or {}).get("delete_version_after") or "0s")
        yield from self._call(Call("POST", self._kv_path("metadata", name), body={
            "delete_version_after": keep, "custom_metadata": dict(custom)}))

    def _undo_metadata(self, name: str, metadata: Mapping[str, str] | None,
                       before: dict[str, str] | None) -> Steps[Call, None]:
        """The value was refused: put back the custom metadata this put changed (best effort:
        the value write's own error is what the caller hears)."""
        if metadata is None:
            return
        try:
            settings = yield from self._metadata_or_none(name)
            if settings is None or custom_metadata(settings) == (before or {}):
                return
            if before is None and not settings.get("versions"):
                # The secret did not exist: leave no metadata-only entry behind.
                yield from self._call(Call("DELETE", self._kv_path("metadata", name)))
            else:
                yield from self._write_custom_metadata(name, before or {}, settings)
        except Exception as exc:  # best effort, said in the log
            _log.warning("could not put back the custom metadata of %r after a refused "
                         "write (%s)", name, type(exc).__name__)

    def delete(self, name: str) -> Steps[Call, None]:
        # Vault answers 204 for a missing path: check first, so a missing secret is reported.
        # Deleting the metadata is already permanent on Vault: there is nothing to purge.
        if self.kv_version == 1:
            yield from self._call(Call("GET", self._kv_path("", name)))
            yield from self._call(Call("DELETE", self._kv_path("", name)))
            return
        yield from self._metadata(name)
        yield from self._call(Call("DELETE", self._kv_path("metadata", name)))

    def list_names(self, prefix: str) -> Steps[Call, list[str]]:
        """The names under ``prefix`` (the whole listing: a caller's iterator may be left
        unfinished, and a generator of steps cannot be)."""
        directory = prefix[: prefix.rfind("/") + 1]
        pending = [directory]
        kind = "metadata" if self.kv_version == 2 else ""
        names: list[str] = []
        while pending:
            path = pending.pop()
            try:
                response = yield from self._call(Call("LIST", self._kv_path(kind, path)))
            except hvac.exceptions.InvalidPath:
                continue  # nothing under this directory
            for key in response["data"]["keys"]:
                full = path + key
                if key.endswith("/"):
                    # Descend only where names under ``full`` can start with the prefix.
                    if full.startswith(prefix) or prefix.startswith(full):
                        pending.append(full)
                elif full.startswith(prefix) and not full.endswith(STAGED_SUFFIX):
                    names.append(full)
        return names

    def list_versions(self, name: str) -> Steps[Call, list[VersionInfo]]:
        if self.kv_version == 1:
            return [VersionInfo(version=(yield from self._get_v1(name, None)).version)]
        versions = (yield from self._metadata(name)).get("versions") or {}
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

    def current_version(self, name: str) -> Steps[Call, str | VersionInfo]:
        if self.kv_version == 1:
            return (yield from self._get_v1(name, None)).version
        meta = yield from self._metadata(name)
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

    @staticmethod
    def staging_companion(name: str) -> str:
        # The store stages a pending value here (KV v2 has no version that exists without
        # being current): NAME~staged, beside the secret, with its own versions and metadata.
        return name + STAGED_SUFFIX

    # -- Vault specifics (the backends' extra operations) ----------------------------------

    def _require_v2(self, what: str) -> None:
        if self.kv_version != 2:
            raise UnsupportedError(f"{what} needs a KV version 2 mount", backend="vault")

    def delete_latest_version(self, name: str) -> Steps[Call, None]:
        self._require_v2("deleting one version")
        yield from self._metadata(name)  # a missing secret is "not found", as for every call
        yield from self._call(Call("DELETE", self._kv_path("data", name)))

    def undelete_versions(self, name: str, versions: Sequence[str]) -> Steps[Call, None]:
        self._require_v2("undeleting versions")
        numbers = _version_numbers(versions)
        yield from self._call(Call("POST", self._kv_path("undelete", name),
                                   body={"versions": numbers}))

    def destroy_versions(self, name: str, versions: Sequence[str]) -> Steps[Call, None]:
        self._require_v2("destroying versions")
        numbers = _version_numbers(versions)
        yield from self._call(Call("POST", self._kv_path("destroy", name),
                                   body={"versions": numbers}))

    def describe(self, name: str) -> Steps[Call, Lifecycle]:
        self._require_v2("describing a secret")
        meta = yield from self._metadata(name)
        current = str(meta.get("current_version") or "")
        versions = meta.get("versions") or {}
        written = parse_time((versions.get(current) or {}).get("created_time"))
        keep = parse_duration(meta.get("delete_version_after"))
        return Lifecycle(
            name, _DESCRIBED, created_at=parse_time(meta.get("created_time")), updated_at=written,
            expires_at=written + keep if written is not None and keep else None,
            current_version=current or None, versions=len(versions))


def _version_numbers(versions: Sequence[str]) -> list[int]:
    if isinstance(versions, str):
        raise InvalidArgumentError("versions is a list of version ids, not one string")
    numbers = [version_number(v) if isinstance(v, str) else None for v in versions]
    if any(n is None for n in numbers):
        raise InvalidArgumentError("KV v2 version ids are whole numbers ('3')")
    return [n for n in numbers if n is not None]


#: What KV v2 metadata tells.
_DESCRIBED = frozenset({"created_at", "updated_at", "expires_at", "current_version", "versions"})
