"""The backend protocol: the small set of raw operations every secret manager adapter implements.

A backend is deliberately thin. It talks to one service, maps portable names to the service's
names and back, and raises the SDK's own exceptions; it does *not* retry, cache, validate names
or wrap errors. The :class:`~helium_secrets.SecretStore` that holds it does all of that, once, for
every backend. What a backend does own is :meth:`Backend.classify`, the knowledge of which SDK
error means which portable :class:`~helium_secrets.errors.ErrorCode`.
"""

from __future__ import annotations

import collections
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar, runtime_checkable

from helium_secrets._forksafe import renew_after_fork
from helium_secrets._values import VersionInfo
from helium_secrets.errors import ErrorCode

if TYPE_CHECKING:
    from datetime import datetime
    from urllib.parse import SplitResult

__all__ = [
    "AsyncBackend",
    "AsyncBackendBase",
    "Backend",
    "BackendBase",
    "Capabilities",
    "Classified",
    "ExtraOperation",
    "LeaseGrant",
    "NameRules",
    "RawSecret",
    "RequestTokens",
    "extra_operation",
]

_EMPTY: Mapping[str, str] = MappingProxyType({})
F = TypeVar("F", bound=Callable[..., Any])
B = TypeVar("B", bound="_Defaults")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class NameRules:
    """What a backend accepts as a portable secret name, on top of the portable rules.

    The store checks these before any call. ``check`` is for rules a pattern can't express
    (Azure's 127-character limit applies to the *mapped* name, for instance); it returns a
    sentence saying what is wrong, or ``None``.

    :param max_length: longest portable name, in characters.
    :param segment_pattern: a regular expression every ``/``-separated segment must match.
    :param description: the rule in words, quoted in :class:`~helium_secrets.errors.InvalidNameError`.
    :param check: an extra check on the whole name.
    """

    max_length: int = 512
    segment_pattern: str = r"[A-Za-z0-9._+=@-]+"
    description: str = "segments of letters, digits and . _ + = @ -"
    check: Callable[[str], str | None] | None = None
    _compiled: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", re.compile(self.segment_pattern))

    def problem(self, name: str) -> str | None:
        """Return what is wrong with ``name`` under these rules, or ``None``."""
        if len(name) > self.max_length:
            return f"longer than {self.max_length} characters"
        for segment in name.split("/"):
            if not self._compiled.fullmatch(segment):
                return f"segment {segment!r} breaks the backend's rule: {self.description}"
        return self.check(name) if self.check is not None else None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do. The store reads these to validate and to choose strategies.

    :param binary: stores bytes values (otherwise only text).
    :param versions: keeps old versions that can be read by id.
    :param labels: supports labels (stages, aliases) on versions.
    :param read_only: refuses every write.
    :param max_value_bytes: the largest value accepted, in bytes once encoded.
    :param name_rules: the backend's name rules.
    :param version_probe: :meth:`Backend.current_version` is cheaper than a read.
    :param batch_get: ``get_many`` is native; the largest batch the service takes (0: none).
    :param idempotent_put: ``put`` honours ``request_token`` so a retried put makes one version.
    :param check_and_set: ``put`` honours ``expected_version`` atomically.
    :param staging: :meth:`Backend.stage`, :meth:`Backend.promote` and :meth:`Backend.discard`
        are implemented (native staged rotation).
    :param staging_companion: without native ``staging``, the store stages a pending value in
        the companion :meth:`Backend.staging_companion` names, with the backend's own ``get``,
        ``put`` and ``delete`` (staged rotation by a companion secret). The pending version
        is announced by the companion's own version id unless ``sequential_versions``, so a
        backend that counts versions per secret ("1", "2"... for each) must declare
        ``sequential_versions`` too: else a pending id could be one of the secret's own.
    :param sequential_versions: version ids are whole numbers and a write checked against
        version N makes version N+1, so a value staged in a companion is announced by the id
        it will get.
    :param max_metadata_keys: the most metadata entries a secret takes (``None``: no limit).
    :param max_metadata_key_bytes: the longest metadata key, in bytes once encoded.
    :param max_metadata_value_bytes: the longest metadata value, in bytes once encoded.
    :param leases: :meth:`Backend.issue_lease`, :meth:`Backend.renew_lease` and
        :meth:`Backend.revoke_lease` are implemented (dynamic secrets).
    :param managed_labels: the labels the backend or its service moves by itself (AWS's
        ``AWSCURRENT``, a staged version's ``pending``): ``helium-secrets copy`` leaves them out.
    """

    binary: bool = True
    versions: bool = True
    labels: bool = False
    read_only: bool = False
    max_value_bytes: int | None = None
    name_rules: NameRules = NameRules()
    version_probe: bool = False
    batch_get: int = 0
    idempotent_put: bool = False
    check_and_set: bool = False
    staging: bool = False
    staging_companion: bool = False
    sequential_versions: bool = False
    max_metadata_keys: int | None = None
    max_metadata_key_bytes: int | None = None
    max_metadata_value_bytes: int | None = None
    leases: bool = False
    managed_labels: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ExtraOperation:
    """How the store runs a backend-specific operation (see :func:`extra_operation`).

    :param writes: the operation changes the secret, so it is refused on a read-only backend
        and the store forgets what it cached of the name afterwards.
    """

    writes: bool = True


_EXTRA_MARK = "__helium_extra__"


def extra_operation(*, writes: bool) -> Callable[[F], F]:
    """Mark a backend method as a backend-specific operation (purge, restore, ...).

    The method takes the portable secret name as its first argument and raises raw SDK errors
    like every other backend method. The store exposes it as ``store.extras.<method>(name, ...)``
    and runs it through its call pipeline: the name is checked, a closed store refuses it,
    errors are translated and an audit event is emitted.
    """

    def mark(method: F) -> F:
        setattr(method, _EXTRA_MARK, ExtraOperation(writes=writes))
        return method

    return mark


def extra_operations(backend: object) -> dict[str, ExtraOperation]:
    """The backend-specific operations ``backend``'s class declares, by method name."""
    found: dict[str, ExtraOperation] = {}
    for attr in dir(type(backend)):
        if attr.startswith("_"):
            continue
        spec = getattr(getattr(type(backend), attr, None), _EXTRA_MARK, None)
        if isinstance(spec, ExtraOperation):
            found[attr] = spec
    return found


@dataclass(frozen=True, slots=True)
class RawSecret:
    """A secret as a backend returns it; the store turns it into a :class:`~helium_secrets.Secret`."""

    name: str
    value: str | bytes = field(repr=False)
    version: str
    labels: frozenset[str] = frozenset()
    created_at: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class LeaseGrant:
    """A lease as a backend returns it when issuing or renewing one.

    :param lease_id: the service's id of the lease (not a credential).
    :param duration: seconds it is valid for from now (0: it does not expire).
    :param renewable: whether a renewal can extend it.
    :param data: the credentials issued (only when issuing; empty on a renewal).
    """

    lease_id: str
    duration: float
    renewable: bool
    data: Mapping[str, str] = field(default_factory=lambda: _EMPTY, repr=False)


@dataclass(frozen=True, slots=True)
class Classified:
    """A backend's verdict on an SDK exception.

    :param code: the portable error code.
    :param message: a short description for the user. It must never contain a secret value:
        build it from status codes and error codes, not from free-form service text that may
        echo a request.
    :param transient: override the code's default (``None`` keeps it).
    :param retry_after: seconds the service asked us to wait (Retry-After and the like).
    """

    code: ErrorCode
    message: str | None = None
    transient: bool | None = None
    retry_after: float | None = None


@runtime_checkable
class Backend(Protocol):
    """The raw operations of one secret manager. Names are portable names throughout.

    Errors: raise the SDK's exceptions (or a :class:`~helium_secrets.errors.HeliumError` for
    conditions the backend detects itself); :meth:`classify` maps SDK exceptions to codes.
    """

    @property
    def name(self) -> str:
        """Short backend name used in errors and audit events ("memory", "vault", "aws", ...)."""
        ...

    @property
    def capabilities(self) -> Capabilities:
        """What the backend can do; the store validates and picks strategies from it."""
        ...

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        """Read one version: the current one, the given ``version`` id, or the one with ``label``."""
        ...

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
        """Write a new version and make it current.

        :param expected_version: only write if the current version is this one (check-and-set);
            otherwise raise a conflict.
        :param create_only: only write if the secret does not exist yet.
        :param request_token: a unique id of this logical write, the same on every retry of it;
            backends with ``idempotent_put`` make at most one version per token.
        :param metadata: tags/labels/custom metadata to attach to the secret.
        :param labels: extra labels to put on the new version (where ``capabilities.labels``).
        """
        ...

    def delete(self, name: str, *, purge: bool = False) -> None:
        """Delete the secret and its versions (``purge``: skip any recovery window)."""
        ...

    def list_names(self, prefix: str = "") -> Iterator[str]:
        """Yield the portable names that start with ``prefix``."""
        ...

    def list_versions(self, name: str) -> list[VersionInfo]:
        """Return the versions of a secret, oldest first."""
        ...

    def current_version(self, name: str) -> str | VersionInfo:
        """Return the current version id, as cheaply as the service allows; or a
        :class:`VersionInfo` with its creation time, where the probe knows it, so that a secret
        deleted and created again (with its ids starting again) is told from the old one."""
        ...

    def get_many(self, names: Sequence[str]) -> dict[str, RawSecret | BaseException]:
        """Read the current version of several secrets; per-name errors are values in the dict.

        The store calls it with distinct names, at most ``capabilities.batch_get`` of them.
        """
        ...

    def set_label(self, name: str, label: str, version: str | None) -> None:
        """Move ``label`` to ``version``, or remove it from the secret when ``version`` is None."""
        ...

    def stage(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_current: str | None,
        request_token: str | None = None,
    ) -> VersionInfo:
        """Write a *pending* version that reads of the current version do not return yet.

        :param expected_current: stage only if the current version is this one (conflict
            otherwise), so two rotators never both stage against the same version.
        """
        ...

    def promote(self, name: str, version: str, *, expected_current: str | None) -> None:
        """Make the staged ``version`` current (conflict if the current one is not
        ``expected_current``)."""
        ...

    def discard(self, name: str, version: str) -> None:
        """Roll back the staged ``version``: it never becomes current."""
        ...

    def staging_companion(self, name: str) -> str:
        """The raw name reserved for the staged value of ``name`` (with
        ``capabilities.staging_companion``): never a portable name, never listed by
        :meth:`list_names`, stored through this backend's :meth:`get`, :meth:`put` and
        :meth:`delete` with its metadata. Raise :class:`~helium_secrets.errors.InvalidNameError`
        for a name that leaves no room for one (it is called before any network call)."""
        ...

    def issue_lease(self, path: str) -> LeaseGrant:
        """Issue credentials under a lease at ``path`` (with ``capabilities.leases``): a
        service path such as Vault's ``database/creds/ROLE``, not a portable name."""
        ...

    def renew_lease(self, lease_id: str, increment: float | None) -> LeaseGrant:
        """Extend a lease by ``increment`` seconds (``None``: the service's default); the
        grant says how long it really got (less, near the maximum TTL)."""
        ...

    def revoke_lease(self, lease_id: str) -> None:
        """Revoke a lease, so that its credentials stop working now."""
        ...

    def lease_upkeep_due(self) -> float:
        """Seconds until what the leases depend on needs upkeep (Vault: the token that issued
        them, whose expiry revokes them); ``inf``: nothing. No I/O: the lease keeper asks
        after each of its rounds, so that one schedule keeps both alive."""
        ...

    def lease_upkeep(self) -> None:
        """Do that upkeep now (renew the token, or log in again), when the keeper's own calls
        did not do it on the way."""
        ...

    def classify(self, exc: BaseException) -> Classified | None:
        """Map an SDK exception to a portable code, or ``None`` when it is not the SDK's."""
        ...

    def close(self) -> None:
        """Release connections and background resources."""
        ...


class RequestTokens(Generic[V]):
    """What a backend whose service has no idempotency tokens remembers of its recent writes,
    by ``request_token`` (the same on every retry of one logical write), so that a retry can
    find what its first attempt did. Thread-safe, bounded: the oldest go first (a retry comes
    soon after its attempt).
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._entries: collections.OrderedDict[str, V] = collections.OrderedDict()
        renew_after_fork(self, RequestTokens._after_fork_in_child)

    def get(self, token: str | None) -> V | None:
        """What was remembered for ``token`` (``None``: nothing, or no token)."""
        if token is None:
            return None
        with self._lock:
            return self._entries.get(token)

    def remember(self, token: str | None, value: V) -> None:
        """Remember ``value`` for ``token`` (no token: nothing to remember)."""
        if token is None:
            return
        with self._lock:
            self._entries[token] = value
            self._entries.move_to_end(token)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def _after_fork_in_child(self) -> None:
        # The parent's lock may be held by a thread that does not exist in the child.
        self._lock = threading.Lock()


class _Defaults:
    """What both base classes share: the name, the capabilities, ``from_url`` and ``classify``."""

    name: ClassVar[str] = "backend"
    capabilities: Capabilities = Capabilities()

    @classmethod
    def from_url(cls: type[B], url: SplitResult, **options: Any) -> B:
        """Build the backend from an ``open_store`` URL and keyword options."""
        if url.netloc or url.path or url.query:
            raise ValueError(f"{cls.name} backend URLs take no host, path or query")
        return cls(**options)

    def _unsupported(self, what: str) -> Exception:
        from helium_secrets.errors import UnsupportedError

        return UnsupportedError(f"the {self.name} backend has no {what}")

    def classify(self, exc: BaseException) -> Classified | None:
        return None


class BackendBase(_Defaults):
    """Defaults for the optional operations, so a backend implements only what it has.

    Subclass it (it is not required: any object that satisfies :class:`Backend` works).
    """

    def current_version(self, name: str) -> str | VersionInfo:
        return self.get(name).version  # type: ignore[attr-defined, no-any-return]

    def get_many(self, names: Sequence[str]) -> dict[str, RawSecret | BaseException]:
        out: dict[str, RawSecret | BaseException] = {}
        for name in names:
            try:
                out[name] = self.get(name)  # type: ignore[attr-defined]
            except Exception as exc:  # per-item errors are values, classified by the store
                out[name] = exc
        return out

    def set_label(self, name: str, label: str, version: str | None) -> None:
        raise self._unsupported("labels")

    def stage(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_current: str | None,
        request_token: str | None = None,
    ) -> VersionInfo:
        raise self._unsupported("staged rotation")

    def promote(self, name: str, version: str, *, expected_current: str | None) -> None:
        raise self._unsupported("staged rotation")

    def discard(self, name: str, version: str) -> None:
        raise self._unsupported("staged rotation")

    def staging_companion(self, name: str) -> str:
        raise self._unsupported("staged rotation")

    def issue_lease(self, path: str) -> LeaseGrant:
        raise self._unsupported("leases")

    def renew_lease(self, lease_id: str, increment: float | None) -> LeaseGrant:
        raise self._unsupported("leases")

    def revoke_lease(self, lease_id: str) -> None:
        raise self._unsupported("leases")

    def lease_upkeep_due(self) -> float:
        return float("inf")

    def lease_upkeep(self) -> None:
        return None

    def close(self) -> None:
        return None


@runtime_checkable
class AsyncBackend(Protocol):
    """The async twin's backend: :class:`Backend`'s methods, each ``async def``, with the same
    names, arguments, return values, errors and :class:`Capabilities`; ``close`` is ``aclose``.

    Four members stay plain, because they do no I/O: the ``name`` and ``capabilities``
    properties, :meth:`classify` and :meth:`lease_upkeep_due`. ``list_names`` returns
    (awaited) an iterable of names; an async generator is accepted too. A backend registers
    its async class beside its sync one (``register_backend(..., async_target="module:Class")``);
    a backend without one is run by :func:`~helium_secrets.open_async_store` in worker threads
    (:class:`~helium_secrets.backends.aio.ThreadedBackend`).
    """

    @property
    def name(self) -> str:
        """Short backend name used in errors and audit events."""
        ...

    @property
    def capabilities(self) -> Capabilities:
        """What the backend can do."""
        ...

    async def get(self, name: str, version: str | None = None,
                  label: str | None = None) -> RawSecret:
        """See :meth:`Backend.get`."""
        ...

    async def put(
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
        """See :meth:`Backend.put`."""
        ...

    async def delete(self, name: str, *, purge: bool = False) -> None:
        """See :meth:`Backend.delete`."""
        ...

    async def list_names(self, prefix: str = "") -> Iterable[str]:
        """See :meth:`Backend.list_names`."""
        ...

    async def list_versions(self, name: str) -> list[VersionInfo]:
        """See :meth:`Backend.list_versions`."""
        ...

    async def current_version(self, name: str) -> str | VersionInfo:
        """See :meth:`Backend.current_version`."""
        ...

    async def get_many(self, names: Sequence[str]) -> dict[str, RawSecret | BaseException]:
        """See :meth:`Backend.get_many`."""
        ...

    async def set_label(self, name: str, label: str, version: str | None) -> None:
        """See :meth:`Backend.set_label`."""
        ...

    async def stage(self, name: str, value: str | bytes, *, expected_current: str | None,
                    request_token: str | None = None) -> VersionInfo:
        """See :meth:`Backend.stage`."""
        ...

    async def promote(self, name: str, version: str, *, expected_current: str | None) -> None:
        """See :meth:`Backend.promote`."""
        ...

    async def discard(self, name: str, version: str) -> None:
        """See :meth:`Backend.discard`."""
        ...

    async def staging_companion(self, name: str) -> str:
        """See :meth:`Backend.staging_companion`."""
        ...

    async def issue_lease(self, path: str) -> LeaseGrant:
        """See :meth:`Backend.issue_lease`."""
        ...

    async def renew_lease(self, lease_id: str, increment: float | None) -> LeaseGrant:
        """See :meth:`Backend.renew_lease`."""
        ...

    async def revoke_lease(self, lease_id: str) -> None:
        """See :meth:`Backend.revoke_lease`."""
        ...

    def lease_upkeep_due(self) -> float:
        """See :meth:`Backend.lease_upkeep_due` (no I/O: plain)."""
        ...

    async def lease_upkeep(self) -> None:
        """See :meth:`Backend.lease_upkeep`."""
        ...

    def classify(self, exc: BaseException) -> Classified | None:
        """See :meth:`Backend.classify` (plain: it does no I/O; the store awaits one written
        as ``async def`` all the same)."""
        ...

    async def aclose(self) -> None:
        """Release connections and background resources (:meth:`Backend.close`)."""
        ...


class AsyncBackendBase(_Defaults):
    """:class:`BackendBase`'s defaults for an :class:`AsyncBackend`: a backend implements only
    what its service has."""

    async def current_version(self, name: str) -> str | VersionInfo:
        return (await self.get(name)).version  # type: ignore[attr-defined, no-any-return]

    async def get_many(self, names: Sequence[str]) -> dict[str, RawSecret | BaseException]:
        out: dict[str, RawSecret | BaseException] = {}
        for name in names:
            try:
                out[name] = await self.get(name)  # type: ignore[attr-defined]
            except Exception as exc:  # per-item errors are values, classified by the store
                out[name] = exc
        return out

    async def set_label(self, name: str, label: str, version: str | None) -> None:
        raise self._unsupported("labels")

    async def stage(self, name: str, value: str | bytes, *, expected_current: str | None,
                    request_token: str | None = None) -> VersionInfo:
        raise self._unsupported("staged rotation")

    async def promote(self, name: str, version: str, *, expected_current: str | None) -> None:
        raise self._unsupported("staged rotation")

    async def discard(self, name: str, version: str) -> None:
        raise self._unsupported("staged rotation")

    async def staging_companion(self, name: str) -> str:
        raise self._unsupported("staged rotation")

    async def issue_lease(self, path: str) -> LeaseGrant:
        raise self._unsupported("leases")

    async def renew_lease(self, lease_id: str, increment: float | None) -> LeaseGrant:
        raise self._unsupported("leases")

    async def revoke_lease(self, lease_id: str) -> None:
        raise self._unsupported("leases")

    def lease_upkeep_due(self) -> float:
        return float("inf")

    async def lease_upkeep(self) -> None:
        return None

    async def aclose(self) -> None:
        return None
