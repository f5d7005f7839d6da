"""``mem://``: the in-memory fake that applications' test suites run against.

State lives in the instance (never in the class), so two stores on ``mem://`` never share
secrets. A *named* fake, ``mem://NAME``, is the exception a test asks for: every store opened on
``mem://NAME`` in the process uses one backend, so code that opens its own store sees what the
test seeded; fakes of different names are separate, and :func:`reset_shared` empties them.
Every operation is thread-safe. The switches that tests use are public methods:

* :meth:`MemoryBackend.fail_next` makes the next N calls raise a chosen error;
* :meth:`MemoryBackend.set_latency` adds latency to every call;
* :attr:`MemoryBackend.calls` counts calls per operation;
* :meth:`MemoryBackend.write_external` writes a version "from outside", as a rotation would.
"""

from __future__ import annotations

import collections
import itertools
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, ClassVar
from urllib.parse import SplitResult

from helium_secrets._forksafe import renew_after_fork
from helium_secrets._options import Options, build, option, parse, query_of
from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import (
    BackendBase,
    Capabilities,
    Classified,
    RawSecret,
    extra_operation,
)
from helium_secrets.errors import (
    ConflictError,
    HeliumError,
    SecretNotFoundError,
    UnavailableError,
    VersionNotFoundError,
)
from helium_secrets.lifecycle import RECORDED_FIELDS, Lifecycle

__all__ = ["MemoryBackend", "MemoryOptions", "reset_shared", "shared"]

#: The label of a staged version until it is promoted or discarded.
PENDING = "pending"

#: The Vault KV / AWS / GCP sized default; change it per instance with ``max_value_bytes=``.
DEFAULT_MAX_VALUE_BYTES = 64 * 1024


@dataclass
class _Version:
    id: str
    value: str | bytes = field(repr=False)  # error reporters capture reprs
    created_at: datetime
    labels: set[str] = field(default_factory=set)
    state: str = "enabled"


@dataclass
class _Entry:
    versions: list[_Version] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # request token -> version id
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    current_id: str = ""  # the newest version, except while a staged one is pending
    accessed: datetime | None = None  # the last read, like AWS's LastAccessedDate

    @property
    def current(self) -> _Version:
        return self.version(self.current_id)

    def version(self, version_id: str) -> _Version:
        for candidate in self.versions:
            if candidate.id == version_id:
                return candidate
        raise VersionNotFoundError("no such version")


class InjectedFault(Exception):
    """The exception :meth:`MemoryBackend.fail_next` raises; classified by its ``code``."""

    def __init__(self, classified: Classified) -> None:
        super().__init__(f"injected fault: {classified.code}")
        self.classified = classified


@dataclass(frozen=True, kw_only=True)
class MemoryOptions(Options):
    """The options of :class:`MemoryBackend` (the table in docs/backends/memory.md).

    :param max_value_bytes: the largest value accepted (default 64 KiB, like most services).
    :param clock: returns "now" for ``created_at`` (tests pass a fixed clock).
    """

    scheme: ClassVar[str] = "mem"

    max_value_bytes: int = option(DEFAULT_MAX_VALUE_BYTES, query=True, ge=1)
    clock: Callable[[], datetime] | None = None


class MemoryBackend(BackendBase):
    """An in-memory backend with versions, labels, metadata and fault-injection switches.

    :param options: a ready :class:`MemoryOptions`, or pass its fields as keywords.
    """

    name: ClassVar[str] = "memory"

    def __init__(self, *, options: MemoryOptions | None = None, **keywords: Any) -> None:
        self._options = build(MemoryOptions, options, keywords)
        self.capabilities = Capabilities(
            binary=True,
            versions=True,
            labels=True,
            max_value_bytes=self._options.max_value_bytes,
            version_probe=True,
            batch_get=0,
            idempotent_put=True,
            check_and_set=True,
            staging=True,
            managed_labels=frozenset({PENDING}),
        )
        self._clock = self._options.clock or (lambda: datetime.now(timezone.utc))
        self._lock = threading.RLock()
        renew_after_fork(self, MemoryBackend._renew_locks)
        self._secrets: dict[str, _Entry] = {}
        self._faults: collections.deque[tuple[Classified, frozenset[str] | None]] = (
            collections.deque()
        )
        self._latency = 0.0
        #: Calls made per operation ("get", "put", ...), for tests to inspect.
        self.calls: collections.Counter[str] = collections.Counter()
        #: The name of a shared fake (``mem://NAME``), or ``None``.
        self.shared_name: str | None = None

    @property
    def options(self) -> MemoryOptions:
        """The resolved options (read-only)."""
        return self._options

    @classmethod
    def from_url(cls, url: SplitResult, **keywords: Any) -> MemoryBackend:
        """``mem://`` (a fresh fake) or ``mem://NAME`` (the process's fake of that name)."""
        if url.path not in ("", "/"):
            raise ValueError("mem:// URLs take no path: mem:// or mem://NAME")
        if url.netloc:
            if keywords or url.query:
                raise ValueError("a named fake (mem://NAME) takes no options: the first "
                                 "shared(NAME, ...) call sets them")
            return shared(url.netloc)
        return cls(options=parse(MemoryOptions, keywords=keywords, query=query_of(url)))

    def __repr__(self) -> str:
        with self._lock:
            count = len(self._secrets)
        shown = f"mem://{self.shared_name}" if self.shared_name else "mem://"
        return f"<MemoryBackend {shown} secrets={count}>"

    def reset(self) -> None:
        """Forget every secret, pending fault, latency and call count."""
        with self._lock:
            self._secrets.clear()
            self._faults.clear()
            self._latency = 0.0
            self.calls.clear()

    def _renew_locks(self) -> None:
        # In a child after fork: the parent's lock may be held by a thread the child lacks.
        self._lock = threading.RLock()

    # -- switches for tests ----------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        error: HeliumError | Classified | type[HeliumError] | None = None,
        *,
        operations: Sequence[str] | None = None,
    ) -> None:
        """Make the next ``count`` calls (of ``operations``, default any) fail with ``error``.

        ``error`` is a :class:`Classified` verdict (as if the SDK had failed), or a helium
        error class or instance, whose code is used. The default is "unavailable".
        """
        if error is None:
            error = UnavailableError
        if isinstance(error, Classified):
            classified = error
        elif isinstance(error, HeliumError):
            classified = Classified(error.code, transient=error.transient,
                                    retry_after=error.retry_after)
        elif isinstance(error, type) and issubclass(error, HeliumError):
            classified = Classified(error.code)
        else:  # pragma: no cover - guarded by typing
            raise TypeError("error must be a Classified, a HeliumError class or instance")
        ops = frozenset(operations) if operations is not None else None
        with self._lock:
            self._faults.extend([(classified, ops)] * count)

    def clear_faults(self) -> int:
        """Cancel the faults that :meth:`fail_next` queued and were not used yet; return how
        many there were."""
        with self._lock:
            left = len(self._faults)
            self._faults.clear()
            return left

    def set_latency(self, seconds: float) -> None:
        """Sleep ``seconds`` in every call (0 turns it off)."""
        self._latency = seconds

    def write_external(self, name: str, value: str | bytes) -> str:
        """Write a new current version as another client would (no store sees it): a rotation."""
        with self._lock:
            return self._write(name, value, metadata=None, labels=()).version

    # -- the protocol ----------------------------------------------------------------------

    def _enter(self, operation: str) -> None:
        self.calls[operation] += 1
        if self._latency:
            time.sleep(self._latency)
        with self._lock:
            for index, (classified, ops) in enumerate(self._faults):
                if ops is None or operation in ops:
                    del self._faults[index]
                    raise InjectedFault(classified)

    def _entry(self, name: str) -> _Entry:
        entry = self._secrets.get(name)
        if entry is None or not entry.versions:
            raise SecretNotFoundError("secret not found")
        return entry

    def _raw(self, name: str, entry: _Entry, version: _Version) -> RawSecret:
        entry.accessed = self._clock()
        return RawSecret(
            name=name,
            value=version.value,
            version=version.id,
            labels=frozenset(version.labels),
            created_at=version.created_at,
            metadata=MappingProxyType(dict(entry.metadata)),
        )

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        self._enter("get")
        with self._lock:
            entry = self._entry(name)
            if version is None and label is None:
                return self._raw(name, entry, entry.current)
            for candidate in entry.versions:
                if (version is None or candidate.id == version) and (
                    label is None or label in candidate.labels
                ):
                    if candidate.state != "enabled":
                        raise VersionNotFoundError(f"version is {candidate.state}")
                    return self._raw(name, entry, candidate)
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
        self._enter("put")
        with self._lock:
            entry = self._secrets.get(name)
            if entry is not None and request_token in entry.tokens:
                done = entry.tokens[request_token]
                return next(self._info(v) for v in entry.versions if v.id == done)
            exists = entry is not None and bool(entry.versions)
            if create_only and exists:
                raise ConflictError("secret already exists")
            if expected_version is not None:
                if not exists:
                    raise ConflictError("check-and-set failed: the secret does not exist")
                assert entry is not None
                if entry.current.id != expected_version:
                    raise ConflictError("check-and-set failed: the current version changed")
            written = self._write(name, value, metadata=metadata, labels=labels)
            if request_token is not None:
                self._secrets[name].tokens[request_token] = written.version
            return written

    def _write(
        self, name: str, value: str | bytes, *, metadata: Mapping[str, str] | None,
        labels: Sequence[str], make_current: bool = True,
    ) -> VersionInfo:
        entry = self._secrets.setdefault(name, _Entry())
        # A label names one version of a secret at a time (like AWS stages): move it.
        for old in entry.versions:
            old.labels.difference_update(labels)
        new = _Version(
            id=str(next(entry.counter)),
            value=value,
            created_at=self._clock(),
            labels=set(labels),
        )
        entry.versions.append(new)
        if make_current or not entry.current_id:
            entry.current_id = new.id
        if metadata is not None:
            entry.metadata.update(metadata)
        return self._info(new)

    @staticmethod
    def _info(version: _Version) -> VersionInfo:
        return VersionInfo(
            version=version.id,
            labels=frozenset(version.labels),
            created_at=version.created_at,
            state=version.state,
        )

    def delete(self, name: str, *, purge: bool = False) -> None:
        self._enter("delete")
        with self._lock:
            self._entry(name)
            del self._secrets[name]

    def list_names(self, prefix: str = "") -> Iterator[str]:
        self._enter("list")
        with self._lock:
            names = sorted(n for n, e in self._secrets.items() if e.versions and n.startswith(prefix))
        return iter(names)

    def list_versions(self, name: str) -> list[VersionInfo]:
        self._enter("versions")
        with self._lock:
            return [self._info(v) for v in self._entry(name).versions]

    def current_version(self, name: str) -> VersionInfo:
        self._enter("current_version")
        with self._lock:
            return self._info(self._entry(name).current)

    def set_label(self, name: str, label: str, version: str | None) -> None:
        self._enter("set_label")
        with self._lock:
            entry = self._entry(name)
            target = None
            if version is not None:
                target = next((v for v in entry.versions if v.id == version), None)
                if target is None:
                    raise VersionNotFoundError("no such version")
            for candidate in entry.versions:
                candidate.labels.discard(label)
            if target is not None:
                target.labels.add(label)

    def stage(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_current: str | None,
        request_token: str | None = None,
    ) -> VersionInfo:
        self._enter("stage")
        with self._lock:
            entry = self._entry(name)
            if request_token in entry.tokens:
                return self._info(entry.version(entry.tokens[request_token]))
            if expected_current is not None and entry.current_id != expected_current:
                raise ConflictError("staging failed: the current version changed")
            staged = self._write(name, value, metadata=None, labels=(PENDING,), make_current=False)
            if request_token is not None:
                entry.tokens[request_token] = staged.version
            return staged

    def promote(self, name: str, version: str, *, expected_current: str | None) -> None:
        self._enter("promote")
        with self._lock:
            entry = self._entry(name)
            target = entry.version(version)
            if expected_current is not None and entry.current_id != expected_current:
                raise ConflictError("promotion failed: the current version changed")
            target.labels.discard(PENDING)
            entry.current_id = target.id

    def discard(self, name: str, version: str) -> None:
        self._enter("discard")
        with self._lock:
            entry = self._entry(name)
            target = entry.version(version)
            if target.id == entry.current_id:
                raise ConflictError("the version is current; it can no longer be discarded")
            target.labels.discard(PENDING)
            target.state = "destroyed"

    def classify(self, exc: BaseException) -> Classified | None:
        if isinstance(exc, InjectedFault):
            return exc.classified
        return None

    @extra_operation(writes=False)
    def describe(self, name: str) -> Lifecycle:
        """The secret's lifecycle from its own records: created (its first version), last
        changed (its current version), last read (by its ``clock``), the current version and
        how many are kept."""
        self._enter("describe")
        with self._lock:
            entry = self._entry(name)
            current = entry.current
            return Lifecycle(name, RECORDED_FIELDS | {"accessed_at"},
                             created_at=entry.versions[0].created_at,
                             updated_at=current.created_at, accessed_at=entry.accessed,
                             current_version=current.id, versions=len(entry.versions))

_SHARED_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_shared: dict[str, MemoryBackend] = {}
_shared_lock = threading.Lock()


def shared(name: str, **options: Any) -> MemoryBackend:
    """The process's fake named ``name``: the backend every ``mem://NAME`` store uses.

    :param options: :class:`MemoryOptions` for the fake when this call creates it.
    :raises ValueError: ``name`` is not 1-64 letters, digits and ``. _ -``.
    """
    if not _SHARED_NAME.fullmatch(name):
        raise ValueError(f"a named fake's name is 1-64 letters, digits and . _ -, not {name!r}")
    with _shared_lock:
        backend = _shared.get(name)
        if backend is None:
            backend = _shared[name] = MemoryBackend(**options)
            backend.shared_name = name
        return backend


def reset_shared(name: str | None = None) -> None:
    """Empty the named fake ``name`` (``None``: every named fake); stores on it stay usable."""
    with _shared_lock:
        backends = list(_shared.values()) if name is None else [_shared[name]] if name in _shared else []
    for backend in backends:
        backend.reset()
