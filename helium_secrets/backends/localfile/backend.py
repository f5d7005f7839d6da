"""The ``file://`` backend: secret files in a store directory, their documents and locks."""

from __future__ import annotations

import base64
import contextlib
import errno
import hashlib
import hmac
import logging
import os
import stat
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import SplitResult, quote, unquote

from filelock import FileLock
from filelock import Timeout as LockTimeout

from helium_secrets._forksafe import renew_after_fork
from helium_secrets._options import Options, build, option, parse, query_of
from helium_secrets._values import SecretValue, VersionInfo
from helium_secrets.backends._base import (
    BackendBase,
    Capabilities,
    Classified,
    RawSecret,
    extra_operation,
)
from helium_secrets.backends.localfile.envelope import (
    FORMAT_VERSION,
    atomic_write,
    decode_key,
    fsync_dir,
    generate_key,
    open_file,
    seal,
)
from helium_secrets.errors import (
    ConflictError,
    ErrorCode,
    IntegrityError,
    SecretNotFoundError,
    TooLargeError,
    UnauthenticatedError,
    VersionNotFoundError,
)
from helium_secrets.lifecycle import RECORDED_FIELDS, Lifecycle

__all__ = [
    "DEFAULT_MAX_VALUE_BYTES",
        "KEY_ENV_VAR",
    "PENDING",
    "LocalFileBackend",
    "LocalFileOptions",
    "default_path",
    "default_url",
    "generate_key",
]

#: The environment variable that holds the key (URL-safe base64 of 32 bytes).
KEY_ENV_VAR = "HELIUM_SECRETS_KEY"
#: The largest value accepted by default, in bytes (the same as most cloud services).
DEFAULT_MAX_VALUE_BYTES = 64 * 1024
#: The label of a staged version until it is promoted or discarded (as on ``mem://``).
PENDING = "pending"
#: Request tokens remembered per secret, newest kept: a retry comes soon after its first try.
MAX_TOKENS = 100

_SUFFIX = ".hsec"
_STORE_FILE = "store.hsec"
_SECRETS_DIR = "secrets"
_DEFAULT_KEY_FILE = ".key"
_LOCK_FILE = ".lock"

_log = logging.getLogger(__name__)


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """The default store directory: ``$XDG_DATA_HOME/helium-secrets``, else
    ``~/.local/share/helium-secrets`` (a relative ``XDG_DATA_HOME`` is ignored, as the XDG
    specification says).

    :param environ: the environment to read (default :data:`os.environ`).
    """
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME", "")
    if not base or not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "helium-secrets"


def default_url(environ: Mapping[str, str] | None = None) -> str:
    """The ``file://`` URL of the default store directory (see :func:`default_path`)."""
    return "file://" + quote(default_path(environ).as_posix())


def _unreadable(path: Path, exc: IntegrityError | OSError) -> str:
    """Why ``path`` could not be read, in words that follow "which" (never its content)."""
    if isinstance(exc, OSError):
        return f"cannot be read ({exc.strerror or type(exc).__name__})"
    # The envelope's messages start with the path: "<path> is damaged (...)".
    return str(exc.args[0]).removeprefix(f"{path} ")


def _path_problem(path: str | os.PathLike[str]) -> str | None:
    # "?key_file" alone (or key_file="") would mean the current directory: never a key file.
    return None if os.fspath(path).strip() else "a file's path (it is empty)"


@dataclass(frozen=True, kw_only=True)
class LocalFileOptions(Options):
    """The options of :class:`LocalFileBackend` (the table in docs/backends/file.md).

    :param path: the store directory (default :func:`default_path`). Created, with mode 0700,
        by the first write.
    :param key: the 32-byte key itself, raw or base64 text; by keyword it beats every other
        source, from ``HELIUM_SECRETS_KEY`` it comes after ``key_file``.
    :param key_file: a file holding the base64 key. Beats ``HELIUM_SECRETS_KEY``. When the
        store is new and the file does not exist, it is created (0600, its directory 0700).
    :param environ: the environment to read ``HELIUM_SECRETS_KEY`` and ``XDG_DATA_HOME`` from
        (default :data:`os.environ`); tests pass a dict.
    :param max_value_bytes: the largest value accepted (default 64 KiB).
    :param lock_timeout: seconds (0 or more) a writer waits for another process's lock before
        failing with an "unavailable" error (a negative timeout would make filelock wait
        forever).
    :param clock: returns "now" for ``created_at`` (tests pass a fixed clock).
    """

    scheme: ClassVar[str] = "file"

    path: str | os.PathLike[str] | None = option(None, url="path")
    key: bytes | str | None = option(None, env=KEY_ENV_VAR, secret=True)
    key_file: str | os.PathLike[str] | None = option(None, query=True, check=_path_problem)
    environ: Mapping[str, str] | None = None
    max_value_bytes: int = option(DEFAULT_MAX_VALUE_BYTES, query=True, ge=1)
    lock_timeout: float = option(30.0, query=True, ge=0)
    clock: Callable[[], datetime] | None = None


class LocalFileBackend(BackendBase):
    """Secrets in a local directory, encrypted with AES-256-GCM, one file per secret.

    :param path: the store directory (see :class:`LocalFileOptions`).
    :param options: a ready :class:`LocalFileOptions`, or pass its fields as keywords.
    :raises ValueError: a key of the wrong length, or a limit or timeout out of range.
    """

    name: ClassVar[str] = "file"

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        options: LocalFileOptions | None = None,
        **keywords: Any,
    ) -> None:
        if path is not None:
            keywords["path"] = path
        self._options = opts = build(LocalFileOptions, options, keywords)
        if opts.path:
            self.path = Path(opts.path).expanduser().absolute()
        else:
            self.path = default_path(opts.environ)
        self.capabilities = Capabilities(
            binary=True,
            versions=True,
            labels=True,
            max_value_bytes=opts.max_value_bytes,
            version_probe=False,  # the probe would decrypt the same file as a read
            idempotent_put=True,
            check_and_set=True,
            staging=True,
            managed_labels=frozenset({PENDING}),
        )
        # key= beats key_file=, which beats $HELIUM_SECRETS_KEY (see _resolve_key).
        key = opts.key
        self._env_key: str | None = None
        self._explicit_key: bytes | None = None
        if isinstance(key, str) and opts.source("key") == f"env:{KEY_ENV_VAR}":
            self._env_key = key  # decoded when first needed, as a missing key file is found
        elif isinstance(key, str):
            try:
                self._explicit_key = decode_key(key, "the key= option")
            except UnauthenticatedError as exc:
                # A bad argument, found when the store opens, like a key= of the wrong length.
                raise ValueError(exc.args[0]) from None
        elif key is not None:
            if len(key) != 32:
                raise ValueError(f"key= must be 32 bytes for AES-256, not {len(key)}")
            self._explicit_key = bytes(key)
        key_file = opts.key_file
        self._key_file = Path(key_file).expanduser().absolute() if key_file else None
        self._clock = opts.clock or (lambda: datetime.now(timezone.utc))
        self._secrets_dir = self.path / _SECRETS_DIR
        self._mutex = threading.RLock()
        self._file_lock = FileLock(str(self.path / _LOCK_FILE), timeout=opts.lock_timeout)
        renew_after_fork(self, LocalFileBackend._renew_locks)
        self._key: bytes | None = None  # resolved and checked against store.hsec once
        self._key_source: Path | None = None  # the key file self._key came from, if any
        self._names: dict[str, str] = {}  # file stem -> portable name, for list_names

    def __repr__(self) -> str:
        return f"LocalFileBackend({str(self.path)!r})"

    @property
    def options(self) -> LocalFileOptions:
        """The resolved options (read-only)."""
        return self._options

    @classmethod
    def from_url(cls, url: SplitResult, **keywords: Any) -> LocalFileBackend:
        """Build from ``file:///abs/dir``, ``file://~/dir``, ``file:rel/dir`` or ``file://``.

        Query options: ``key_file``, ``max_value_bytes``, ``lock_timeout``.
        """
        path = unquote(url.path)
        if url.netloc.startswith("~"):
            path = os.path.expanduser(url.netloc + path)
        elif url.netloc not in ("", "localhost"):
            raise ValueError(
                f"file:// URLs name a local directory; host {url.netloc!r} is not supported"
            )
        return cls(options=parse(LocalFileOptions, keywords=keywords, query=query_of(url),
                                 url={"path": path} if path else {}))

    def _renew_locks(self) -> None:
        # In a child after fork: a parent's thread may hold these, and the child lacks it.
        # The file lock is new too: the parent's object may count itself as held.
        self._mutex = threading.RLock()
        self._file_lock = FileLock(self._file_lock.lock_file, timeout=self._file_lock.timeout)

    # -- keys ------------------------------------------------------------------------------

    @property
    def key_file(self) -> Path | None:
        """The key file in use, or ``None`` when the key comes from ``key=`` or the environment."""
        if self._explicit_key is not None:
            return None
        if self._key_file is not None:
            return self._key_file
        if self._env_key:
            return None
        return self.path / _DEFAULT_KEY_FILE

    def _read_key_file(self, path: Path) -> bytes:
        st = path.stat()
        if os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            # Like ssh: a key others can read is not a secret any more.
            raise UnauthenticatedError(
                f"the key file {path} is accessible by group or others; run: chmod 600 {path}"
            )
        return decode_key(path.read_text("ascii", errors="replace"), f"the key file {path}")

    def _create_key_file(self, path: Path) -> bytes:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(generate_key() + "\n")
            f.flush()
            os.fsync(f.fileno())
        fsync_dir(path.parent)
        return self._read_key_file(path)

    def _resolve_key(self, *, create: bool) -> bytes:
        """Find the key by the documented precedence; create a key file only for a new store."""
        if self._explicit_key is not None:
            return self._explicit_key
        if self._key_file is None and self._env_key:
            return decode_key(self._env_key, f"${KEY_ENV_VAR}")
        path = self.key_file
        assert path is not None
        try:
            return self._read_key_file(path)
        except FileNotFoundError:
            if create:
                return self._create_key_file(path)
            raise UnauthenticatedError(
                f"no key for the store {self.path}: set ${KEY_ENV_VAR}, or pass key= or "
                f"key_file= (the key file {path} does not exist)"
            ) from None

    def _ready(self, *, create: bool) -> bytes | None:
        """Return the checked key, or ``None`` when the store does not exist and ``create`` is
        false. With ``create``, make the directory, the key file and ``store.hsec`` if needed.
        """
        with self._mutex:
            if self._key is not None:
                return self._key
            store_file = self.path / _STORE_FILE
            if not store_file.exists():
                # Secrets without store.hsec: the key can't be checked, and making a new store
                # (with whatever key is at hand) over them would mix keys in one directory.
                if self._secrets_dir.is_dir() and any(self._secrets_dir.glob("*" + _SUFFIX)):
                    raise IntegrityError(f"the store file {store_file} is missing")
                if not create:
                    return None
                self._make_dirs()
                key = self._resolve_key(create=True)
                atomic_write(store_file, seal(key, {
                    "kind": "store",
                    "format": FORMAT_VERSION,
                    "created_at": self._clock().isoformat(),
                }))
            else:
                key = self._resolve_key(create=False)
                doc = open_file(store_file, key)
                if doc.get("kind") != "store":
                    raise IntegrityError(f"the store file {store_file} is damaged")
            self._key, self._key_source = key, self.key_file
            return key

    def _make_dirs(self) -> None:
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._secrets_dir.mkdir(mode=0o700, exist_ok=True)

    # -- secret files ----------------------------------------------------------------------

    def _file(self, name: str) -> Path:
        # Hashed: any portable name fits in a file name, and case-insensitive file systems
        # can't merge two names. The name itself is inside the encrypted document.
        return self._secrets_dir / (hashlib.sha256(name.encode("utf-8")).hexdigest() + _SUFFIX)

    def _load(self, path: Path, key: bytes, name: str | None = None) -> dict[str, Any] | None:
        try:
            doc = open_file(path, key)
        except FileNotFoundError:
            return None
        stored = doc.get("name")
        if (
            doc.get("kind") != "secret"
            or not isinstance(stored, str)
            or not isinstance(doc.get("versions"), list)
            or (name is not None and stored != name)
            or hashlib.sha256(stored.encode("utf-8")).hexdigest() != path.stem
        ):
            raise IntegrityError(f"{path} is damaged or holds another secret (renamed file?)")
        return doc

    def _read(self, name: str) -> dict[str, Any]:
        key = self._ready(create=False)
        doc = None if key is None else self._load(self._file(name), key, name)
        if doc is None or not doc["versions"]:
            raise SecretNotFoundError("secret not found")
        return doc

    @contextlib.contextmanager
    def _writing(self) -> Iterator[bytes]:
        """Hold the in-process and the cross-process lock; yield the checked key."""
        with self._mutex:
            self._make_dirs()
            with self._file_lock:
                key = self._ready(create=True)
                assert key is not None
                self._check_key_source(key)
                yield key

    def _check_key_source(self, key: bytes) -> None:
        """Refuse to write what no new process could read: the key came from a key file that
        was deleted, replaced or opened up since. Checked under the lock, before any write."""
        path = self._key_source
        if path is None:
            return
        refused = "nothing was written, since no new process could read it"
        try:
            current = self._read_key_file(path)
        except FileNotFoundError:
            raise UnauthenticatedError(
                f"the key file {path} was deleted while the store was open; {refused}: "
                "put the key file back, or reopen the store with its key"
            ) from None
        except UnauthenticatedError as exc:
            raise UnauthenticatedError(f"{exc.args[0]}; {refused}") from None
        if not hmac.compare_digest(current, key):
            raise IntegrityError(
                f"the key file {path} now holds another key than the one the store {self.path} "
                f"was opened with; {refused}: put the store's key back in the key file"
            )

    @staticmethod
    def _value(entry: Mapping[str, Any]) -> str | bytes:
        stored = entry["value"]
        text = stored.reveal() if isinstance(stored, SecretValue) else str(stored)
        return base64.b64decode(text) if entry["type"] == "bytes" else text

    @staticmethod
    def _info(entry: Mapping[str, Any]) -> VersionInfo:
        return VersionInfo(
            version=entry["id"],
            labels=frozenset(entry["labels"]),
            created_at=datetime.fromisoformat(entry["created_at"]),
            state=entry.get("state", "enabled"),
        )

    def _raw(self, doc: Mapping[str, Any], entry: Mapping[str, Any]) -> RawSecret:
        info = self._info(entry)
        return RawSecret(
            name=doc["name"],
            value=self._value(entry),
            version=info.version,
            labels=info.labels,
            created_at=info.created_at,
            metadata=MappingProxyType(self._metadata(doc)),
        )

    @staticmethod
    def _metadata(doc: Mapping[str, Any]) -> dict[str, str]:
        # The envelope wraps the "value" of any object with a "type" as it loads a document
        # (that is how it keeps version values out of plain sight): metadata with both keys
        # gets wrapped too, and metadata values are plain text.
        return {key: value.reveal() if isinstance(value, SecretValue) else value
                for key, value in doc.get("metadata", {}).items()}

    # -- documents -------------------------------------------------------------------------

    @staticmethod
    def _current(doc: Mapping[str, Any]) -> dict[str, Any]:
        # "current" is absent until a version is staged: then the newest version is current.
        current_id = doc.get("current")
        for entry in reversed(doc["versions"]):
            if current_id is None or entry["id"] == current_id:
                return entry  # type: ignore[no-any-return]
        raise IntegrityError("the secret's current version is missing")

    @staticmethod
    def _version(doc: Mapping[str, Any], version: str) -> dict[str, Any]:
        for entry in doc["versions"]:
            if entry["id"] == version:
                return entry  # type: ignore[no-any-return]
        raise VersionNotFoundError("no such version")

    @staticmethod
    def _token(doc: Mapping[str, Any] | None, request_token: str | None) -> str | None:
        if doc is None or request_token is None:
            return None
        return dict(doc.get("tokens", [])).get(request_token)

    def _append(
        self,
        doc: dict[str, Any],
        value: str | bytes,
        labels: Sequence[str],
        request_token: str | None,
    ) -> dict[str, Any]:
        """Add a version to ``doc`` (not yet current, not yet on disk) and return it."""
        size = len(value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value)
        limit = self.capabilities.max_value_bytes
        if limit is not None and size > limit:
            raise TooLargeError(f"the value is {size} bytes; this store takes at most {limit}")
        # A label names one version of a secret at a time (like AWS stages): move it.
        for entry in doc["versions"]:
            entry["labels"] = [x for x in entry["labels"] if x not in labels]
        new = {
            "id": str(doc["next_version"]),
            "created_at": self._clock().isoformat(),
            "labels": sorted(set(labels)),
            "state": "enabled",
            "type": "bytes" if isinstance(value, bytes) else "text",
            "value": SecretValue(base64.b64encode(value).decode("ascii")
                                 if isinstance(value, bytes) else value),
        }
        doc["next_version"] += 1
        doc["versions"].append(new)
        if request_token is not None:
            doc["tokens"] = [*doc["tokens"], [request_token, new["id"]]][-MAX_TOKENS:]
        return new

    @contextlib.contextmanager
    def _updating(self, name: str) -> Iterator[dict[str, Any]]:
        """Lock, load an existing secret, let the caller change it, then write it back."""
        with self._writing() as key:
            path = self._file(name)
            doc = self._load(path, key, name)
            if doc is None or not doc["versions"]:
                raise SecretNotFoundError("secret not found")
            yield doc
            atomic_write(path, seal(key, doc))

    # -- the protocol ----------------------------------------------------------------------

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        doc = self._read(name)
        if version is None and label is None:
            return self._raw(doc, self._current(doc))
        for entry in doc["versions"]:
            if (version is None or entry["id"] == version) and (
                label is None or label in entry["labels"]
            ):
                if entry.get("state", "enabled") != "enabled":
                    raise VersionNotFoundError(f"version is {entry['state']}")
                return self._raw(doc, entry)
        raise VersionNotFoundError("no such version or label")

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
        with self._writing() as key:
            path = self._file(name)
            doc = self._load(path, key, name)
            done = self._token(doc, request_token)
            if done is not None:
                assert doc is not None
                return self._info(self._version(doc, done))
            exists = doc is not None and bool(doc["versions"])
            if create_only and exists:
                raise ConflictError("secret already exists")
            if expected_version is not None:
                if doc is None or not exists:
                    raise ConflictError("check-and-set failed: the secret does not exist")
                if self._current(doc)["id"] != expected_version:
                    raise ConflictError("check-and-set failed: the current version changed")
            if doc is None:
                doc = {"kind": "secret", "name": name, "next_version": 1, "metadata": {},
                       "tokens": [], "versions": []}
            new = self._append(doc, value, labels, request_token)
            if "current" in doc:
                doc["current"] = new["id"]
            if metadata is not None:
                doc["metadata"].update(metadata)
            atomic_write(path, seal(key, doc))
            return self._info(new)

    def delete(self, name: str, *, purge: bool = False) -> None:
        with self._writing() as key:
            path = self._file(name)
            # Decrypting first makes a wrong key or a damaged file fail before anything goes.
            if self._load(path, key, name) is None:
                raise SecretNotFoundError("secret not found")
            path.unlink()
            fsync_dir(path.parent)

    def list_names(self, prefix: str = "") -> Iterator[str]:
        key = self._ready(create=False)
        if key is None or not self._secrets_dir.is_dir():
            return iter(())
        names = []
        for path in self._secrets_dir.glob("*" + _SUFFIX):
            name = self._names.get(path.stem)
            if name is None:
                try:
                    doc = self._load(path, key)
                except (IntegrityError, OSError) as exc:
                    # One unreadable file costs its secret, not the listing; reading that
                    # secret still raises. The message names the file, never its content.
                    _log.warning("list() skips %s, which %s", path, _unreadable(path, exc))
                    continue
                if doc is None:  # deleted while we listed
                    continue
                # The stem is a hash of the name, checked by _load: safe to remember forever.
                name = self._names[path.stem] = doc["name"]
            if name.startswith(prefix):
                names.append(name)
        return iter(sorted(names))

    def list_versions(self, name: str) -> list[VersionInfo]:
        return [self._info(e) for e in self._read(name)["versions"]]

    def current_version(self, name: str) -> VersionInfo:
        # With its creation time: a secret deleted and created again starts again at "1".
        return self._info(self._current(self._read(name)))

    def set_label(self, name: str, label: str, version: str | None) -> None:
        with self._updating(name) as doc:
            if version is not None:
                self._version(doc, version)
            for entry in doc["versions"]:
                entry["labels"] = [x for x in entry["labels"] if x != label]
                if entry["id"] == version:
                    entry["labels"] = sorted({*entry["labels"], label})

    def stage(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_current: str | None,
        request_token: str | None = None,
    ) -> VersionInfo:
        with self._writing() as key:
            path = self._file(name)
            doc = self._load(path, key, name)
            if doc is None or not doc["versions"]:
                raise SecretNotFoundError("secret not found")
            done = self._token(doc, request_token)
            if done is not None:
                return self._info(self._version(doc, done))
            current = self._current(doc)
            if expected_current is not None and current["id"] != expected_current:
                raise ConflictError("staging failed: the current version changed")
            doc["current"] = current["id"]  # the new version is not current until promoted
            new = self._append(doc, value, (PENDING,), request_token)
            atomic_write(path, seal(key, doc))
            return self._info(new)

    def promote(self, name: str, version: str, *, expected_current: str | None) -> None:
        with self._updating(name) as doc:
            target = self._version(doc, version)
            if target.get("state", "enabled") != "enabled":
                raise VersionNotFoundError(f"version is {target['state']}")
            if expected_current is not None and self._current(doc)["id"] != expected_current:
                raise ConflictError("promotion failed: the current version changed")
            target["labels"] = [x for x in target["labels"] if x != PENDING]
            doc["current"] = target["id"]

    def discard(self, name: str, version: str) -> None:
        with self._updating(name) as doc:
            target = self._version(doc, version)
            if target["id"] == self._current(doc)["id"]:
                raise ConflictError("the version is current; it can no longer be discarded")
            target["labels"] = [x for x in target["labels"] if x != PENDING]
            # Destroyed: the value itself leaves the file, only the version's record stays.
            target["state"] = "destroyed"
            target["type"], target["value"] = "text", ""

    def classify(self, exc: BaseException) -> Classified | None:
        if isinstance(exc, LockTimeout):
            return Classified(ErrorCode.UNAVAILABLE, "timed out waiting for the store's lock file",
                              transient=True)
        if isinstance(exc, PermissionError):
            return Classified(ErrorCode.PERMISSION_DENIED,
                              f"file system: {exc.strerror} ({exc.filename})")
        if isinstance(exc, OSError):
            code = errno.errorcode.get(exc.errno or 0, "unknown")
            transient = exc.errno in (errno.ENOSPC, errno.EAGAIN, errno.EINTR, errno.EIO)
            return Classified(ErrorCode.UNAVAILABLE if transient else ErrorCode.UNKNOWN,
                              f"file system error {code} ({exc.filename})", transient=transient)
        return None

    @extra_operation(writes=False)
    def describe(self, name: str) -> Lifecycle:
        """The secret's lifecycle from its own records: created (its first version), last
        changed (its current version), the current version and how many are kept."""
        doc = self._read(name)
        current = self._info(self._current(doc))
        return Lifecycle(name, RECORDED_FIELDS,
                         created_at=datetime.fromisoformat(doc["versions"][0]["created_at"]),
                         updated_at=current.created_at, current_version=current.version,
                         versions=len(doc["versions"]))
