# Generated from helium_secrets/_async/_store.py by scripts/unasync.py: do not edit.
# Change the async source and run the script (CI checks that they agree).
"""The portable type: :class:`SecretStore`, a thin facade over a few private collaborators.

The facade validates arguments (:mod:`~helium_secrets._validation`) and delegates; each concern
is written once, in its own module:

* the call pipeline (:mod:`~helium_secrets._pipeline`): closed check, fail-fast guard,
  retry, error translation, stats and audit, for every call that reaches the backend;
* the read path (:mod:`~helium_secrets._reads`): cache, coalescing, stale values,
  fencing and what the rotation listeners learn from reads;
* the write path (:mod:`~helium_secrets._writes`): request tokens, check-and-set,
  rotation;
* the listeners and the poller (:mod:`~helium_secrets._rotation`);
* the counters (:mod:`~helium_secrets._stats`).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from helium_secrets._leases import LeasedCredentials, LeaseKeeper, check_lease_path
from helium_secrets._pipeline import CallPipeline
from helium_secrets._reads import ReadPath
from helium_secrets._rotation import RotationListeners
from helium_secrets._synchronization import (
    ThreadLock,
    collect,
    iterate,
    renew_after_fork,
)
from helium_secrets._writes import WritePath
from helium_secrets._stats import StatsRecorder, StoreStats
from helium_secrets._validation import Validator
from helium_secrets._values import Secret, SecretValue, VersionInfo, json_field, json_text
from helium_secrets.backends._base import Backend, ExtraOperation, extra_operations
from helium_secrets.errors import UnsupportedError
from helium_secrets.layers.audit import AuditHook, CallContext
from helium_secrets.layers.cache import CachePolicy, SecretCache
from helium_secrets.layers.guard import FailFastGuard, GuardPolicy
from helium_secrets.layers.leases import LeasePolicy
from helium_secrets.layers.retry import Clock, RetryPolicy, SystemClock
from helium_secrets.layers.rotation import RotationCallback, PollPolicy, ticket_counter

if TYPE_CHECKING:  # imported where used: datetime is not loaded by import helium_secrets
    from concurrent.futures import Executor
    from datetime import datetime

    from helium_secrets.lifecycle import AuditFinding, AuditPolicy, Lifecycle

__all__ = ["Extras", "SecretStore", "StoreStats"]

#: A rotation callback, returned as given by :meth:`SecretStore.on_rotation`.
CallbackT = TypeVar("CallbackT", bound=RotationCallback)

_DEFAULT_CACHE = CachePolicy()
_DEFAULT_RETRY = RetryPolicy()
_DEFAULT_GUARD = GuardPolicy()
_DEFAULT_POLL = PollPolicy()
_DEFAULT_LEASE = LeasePolicy()


class SecretStore:
    """Read, write and watch secrets on one backend.

    :param backend: the backend (a :class:`~helium_secrets.backends.Backend`); usually
        built for you by :func:`~helium_secrets.open_store`.
    :param cache: the cache policy, or ``None`` for no cache.
    :param retry: the retry policy for transient failures.
    :param guard: the fail-fast guard policy (``GuardPolicy(threshold=0)`` turns it off).
    :param poll: how the rotation poller probes watched names.
    :param lease: how the leases of :meth:`lease` are renewed, re-issued and revoked.
    :param audit: hooks that receive an :class:`~helium_secrets.layers.audit.AuditEvent` per
        operation.
    :param clock: the time source (tests pass a fake clock).
    :param executor: runs the sync twin's background refreshes (refresh-ahead, stale-wait
        fetches); default: a pool of two threads made when first needed. A simulation passes
        one that runs them on its own schedule (see ``benchmarks/fleet.py``); the store never
        shuts a given one down. The async twin runs them as tasks and leaves it alone.
    """

    #: The keyword options :func:`~helium_secrets.open_store` passes to the store, not the backend.
    OPTIONS = ("cache", "retry", "guard", "poll", "lease", "audit", "clock", "executor")

    def __init__(
        self,
        backend: Backend,
        *,
        cache: CachePolicy | None = _DEFAULT_CACHE,
        retry: RetryPolicy = _DEFAULT_RETRY,
        guard: GuardPolicy = _DEFAULT_GUARD,
        poll: PollPolicy = _DEFAULT_POLL,
        lease: LeasePolicy = _DEFAULT_LEASE,
        audit: Iterable[AuditHook] = (),
        clock: Clock | None = None,
        executor: Executor | None = None,
    ) -> None:
        self.backend = backend
        self.retry_policy = retry
        self.cache_policy = cache
        self._backend_name: str = backend.name
        self._closed = False
        self._check = Validator(backend.name, backend.capabilities)
        clock = clock or SystemClock()
        self._now = clock.monotonic
        self._stats = StatsRecorder()
        self._audit_hooks: list[AuditHook] = list(audit)
        self._call_contexts: list[CallContext] = []
        self._guard = FailFastGuard(guard)
        self._pipeline = CallPipeline(backend, guard=self._guard, clock=clock, stats=self._stats,
                                      audit_hooks=self._audit_hooks,
                                      call_contexts=self._call_contexts,
                                      closed=lambda: self._closed)
        self._cache = SecretCache(cache) if cache is not None else None
        # The hit path reads this dict directly; an empty dict when caching is off.
        self._entries = self._cache.entries if self._cache is not None else {}
        ticket = ticket_counter()
        self._reads = ReadPath(pipeline=self._pipeline, cache=self._cache,
                               listeners=lambda: self._listeners, ticket=ticket, clock=clock,
                               stats=self._stats, default_policy=lambda: self.retry_policy,
                               executor=executor)
        self._writes = WritePath(pipeline=self._pipeline, reads=self._reads,
                                 cache=self._cache, listeners=lambda: self._listeners,
                                 ticket=ticket)
        self._listeners = RotationListeners(
            backend=self._backend_name, policy=poll, ticket=ticket, confirm=self._reads.confirm,
            probe=lambda name: self._reads.current_version(name, self.retry_policy),
            refresh=self.refresh, baseline=self.get,
        )
        self._extras: Extras | None = None
        self._lease_policy = lease
        self._clock = clock
        self._leases: LeaseKeeper | None = None
        self._lease_lock = ThreadLock()
        renew_after_fork(self, SecretStore._after_fork_in_child)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<SecretStore backend={self._backend_name!r} {state}>"

    # -- validation, shared with the CLI and the testing helpers ---------------------------

    def check_name(self, name: str) -> str:
        """Raise :class:`~helium_secrets.errors.InvalidNameError` unless ``name`` is a valid
        portable name for this store's backend (checked before any call); return it."""
        return self._check.name(name)

    def check_writable(self, name: str | None = None) -> None:
        """Raise :class:`~helium_secrets.errors.ReadOnlyError` if the backend refuses writes."""
        self._check.writable(name)

    def _open(self, name: str) -> str:
        self._pipeline.check_open()
        return self._check.name(name)

    # -- reading ---------------------------------------------------------------------------

    def get(
        self,
        name: str,
        version: str | None = None,
        *,
        label: str | None = None,
        ttl: float | None = None,
        retry: RetryPolicy | None = None,
    ) -> Secret:
        """Return the current version of ``name``, or the given ``version`` or ``label``.

        Current versions are served from the cache while fresh.

        :param version: an opaque version id from :meth:`versions` or :attr:`Secret.version`.
        :param label: a stage or alias (``AWSPREVIOUS``, a GCP alias, ...).
        :param ttl: for this call, the oldest cached value accepted, in seconds, and the TTL
            of a value it fetches (``0`` always fetches).
        :param retry: the retry policy for this call.
        :raises SecretNotFoundError: no such secret.
        :raises VersionNotFoundError: no such version or label.
        """
        if version is None and label is None and ttl is None and retry is None:
            # The hit path: one dict lookup and one comparison, no lock, no allocation.
            entry = self._entries.get(name)
            if entry is not None and entry.secret is not None and self._now() < entry.refresh_at:
                self._stats.hits += 1
                if self._audit_hooks:
                    self._pipeline.emit("get", name, entry.secret.version, None, 0.0, "hit", 0)
                return entry.secret
        self._reads.admit()
        self._open(name)
        self._check.selector(name, version, label)
        self._check.ttl(name, ttl)
        return self._reads.get(name, version, label, ttl, retry or self.retry_policy)

    def refresh(self, name: str) -> Secret:
        """Read the current version of ``name`` from the backend, bypassing the cache once.

        Unlike :meth:`get`, a failure is raised even when a stale cached value exists.
        """
        return self._reads.refresh(self._open(name), self.retry_policy)

    @overload
    def get_json(self, name: str, field: None = None, *, version: str | None = None,
                 label: str | None = None) -> Any: ...
    @overload
    def get_json(self, name: str, field: str | Sequence[str | int], *,
                 version: str | None = None, label: str | None = None) -> Any: ...

    def get_json(
        self,
        name: str,
        field: str | Sequence[str | int] | None = None,
        *,
        version: str | None = None,
        label: str | None = None,
    ) -> Any:
        """Return the value of ``name`` parsed as JSON, or one field of it.

        :param field: a dotted path (``"db.password"``, list indexes as digits) or a sequence of
            keys and indexes, selecting part of the document.
        :raises InvalidArgumentError: the value is not JSON, or the field is not in it (the
            message names the field, never the value).
        """
        secret = self.get(name, version, label=label)
        return json_field(secret, field, backend=self._backend_name)

    def get_many(self, names: Iterable[str], *,
                 ignore_missing: bool = False) -> dict[str, Secret]:
        """Return the current version of several secrets, batched where the service can.

        Each name is read by the same rules as :meth:`get` (cache, coalescing, stale values,
        audit events); the names not cached are fetched together where the service batches.

        :param ignore_missing: leave out names that do not exist instead of raising (any
            other error, permission denied included, is still raised).
        :raises SecretNotFoundError: a name does not exist (unless ``ignore_missing``).
        """
        self._pipeline.check_open()
        wanted = self._check.names(names)
        self._check.flag(None, "ignore_missing", ignore_missing)
        return self._reads.get_many(wanted, ignore_missing, self.retry_policy)

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield the names of the secrets that start with ``prefix``, sorted."""
        self._pipeline.check_open()
        prefix = self._check.prefix(prefix)

        def names() -> builtins.list[str]:
            return sorted(collect(self.backend.list_names(prefix)))

        def fetch() -> builtins.list[str]:
            return self._pipeline.call("list", None, names, self.retry_policy,
                                       detail=f"prefix={prefix!r}")

        return iterate(fetch)

    def versions(self, name: str) -> builtins.list[VersionInfo]:
        """Return the versions of ``name``, oldest first, with their labels and states."""
        self._open(name)

        def versions() -> builtins.list[VersionInfo]:
            return list(self.backend.list_versions(name))

        return self._pipeline.call("versions", name, versions, self.retry_policy)

    def current_version(self, name: str) -> str:
        """Return the id of the current version, with the backend's cheapest call."""
        return (self._reads.current_version(self._open(name), self.retry_policy)).version

    def previous(self, name: str) -> Secret | None:
        """The version that was current before the current one, for grace periods
        (accept a token signed with the current or the previous key); ``None`` if there is none,
        as on a backend that keeps no versions (``env://``, Vault KV v1).
        """
        if not self.backend.capabilities.versions:
            self._open(name)
            return None
        current = self.current_version(name)
        versions = self.versions(name)
        position = next((i for i, v in enumerate(versions) if v.version == current), None)
        if position is None:
            return None
        for candidate in reversed(versions[:position]):
            if candidate.enabled:
                return self.get(name, candidate.version)
        return None

    # -- writing ---------------------------------------------------------------------------

    def put(
        self,
        name: str,
        value: str | bytes | SecretValue,
        *,
        expected_version: str | None = None,
        create_only: bool = False,
        metadata: Mapping[str, str] | None = None,
        labels: Sequence[str] = (),
        retry: RetryPolicy | None = None,
    ) -> Secret:
        """Write ``value`` as the new current version of ``name`` (creating it if needed).

        A put is safe to retry: on backends with idempotency tokens one logical put makes one
        version, and check-and-set puts are retried only as check-and-set. A plain put on a
        backend without tokens is not retried.

        :param expected_version: write only if the current version is this one.
        :param create_only: write only if the secret does not exist yet.
        :param metadata: tags / labels / custom metadata for the secret (backend-specific;
            its keys and values are checked against the backend's limits before any call).
        :param labels: labels (stages, aliases) to move onto the new version.
        :raises ConflictError: the check-and-set or create-only condition failed.
        :raises TooLargeError: the value exceeds the backend's limit (checked before any call).
        :raises InvalidArgumentError: a value that cannot round-trip (a lone surrogate), an
            argument of the wrong type, or metadata the backend does not take.
        """
        self._open(name)
        raw = self._check.value(name, value)
        self._check.writable(name)
        checked = self._check.metadata(name, metadata)
        labels = self._check.labels(name, labels)
        self._check.optional_text(name, "expected_version", expected_version)
        if self._check.flag(name, "create_only", create_only) and expected_version is not None:
            raise self._check.invalid("give expected_version or create_only, not both", name)
        return self._writes.put(name, raw, expected_version=expected_version,
                                create_only=create_only, metadata=checked, labels=labels,
                                policy=retry or self.retry_policy)

    def delete(self, name: str, *, purge: bool = False) -> None:
        """Delete ``name`` and all its versions. Reads then raise ``SecretNotFoundError`` on
        every backend; where the service keeps the secret recoverable, the backend's page says
        how to restore it.

        :param purge: skip the service's recovery window where it has one.
        :raises SecretNotFoundError: no such secret.
        """
        self._open(name)
        self._check.writable(name)
        self._writes.delete(name, self._check.flag(name, "purge", purge), self.retry_policy)

    def set_label(self, name: str, label: str, version: str | None) -> None:
        """Move ``label`` to ``version`` of ``name``, or remove it when ``version`` is None."""
        self._open(name)
        self._check.writable(name)
        self._check.label_move(name, label, version)
        self._writes.set_label(name, label, version, self.retry_policy)

    # -- rotation --------------------------------------------------------------------------

    def rotate(
        self,
        name: str,
        generator: Callable[[], str | bytes],
        *,
        metadata: Mapping[str, str] | None = None,
    ) -> Secret:
        """Write a new version from ``generator()``, check-and-set against the current one.

        Two rotators racing on one secret never both win: the second gets a
        :class:`~helium_secrets.errors.ConflictError` and nothing is overwritten. A secret that
        does not exist yet is created (``create_only``, with the same guarantee).

        :param generator: returns the new value, e.g. a
            :class:`~helium_secrets.generators.PasswordGenerator`.
        :return: the new current secret.
        """
        self._open(name)
        self._check.writable(name)
        checked = self._check.metadata(name, metadata)
        value = self._check.value(name, generator())
        return self._writes.rotate(name, value, checked, self.retry_policy)

    def rotate_staged(
        self,
        name: str,
        generator: Callable[[], str | bytes],
        test: Callable[[Secret], object],
    ) -> Secret:
        """Rotate in stages: write a pending version, test it, then promote or roll back.

        Readers keep getting the current version while the pending one is tested. If
        ``test(pending)`` raises or returns ``False``, the pending version is discarded and
        :class:`~helium_secrets.errors.RotationTestFailed` is raised; otherwise it becomes
        current (check-and-set against the version it replaces) and rotation listeners fire.
        Each backend stages with what its service has (AWS stages, GCP aliases, ...) or, where
        it has none, in a companion secret it reserves (Vault KV v2, Azure Key Vault); its
        documentation page says how.

        :raises UnsupportedError: the backend has no staging.
        :raises ConflictError: someone else rotated the secret meanwhile.
        :raises RotationTestFailed: the test rejected the pending value (it was discarded).
        """
        self._open(name)
        self._check.writable(name)
        self._check.staging(name)
        value = self._check.value(name, generator())
        return self._writes.rotate_staged(name, value, test, self.retry_policy)

    @overload
    def on_rotation(self, name: str) -> Callable[[CallbackT], CallbackT]: ...
    @overload
    def on_rotation(self, name: str, callback: CallbackT) -> CallbackT: ...

    def on_rotation(
        self, name: str, callback: CallbackT | None = None
    ) -> Callable[[CallbackT], CallbackT] | CallbackT:
        """Call ``callback(old, new)`` whenever ``name`` gets a new current version.

        Works as a decorator too (``@store.on_rotation("app/db")``). The store notices new
        versions through its own writes, its reads and refreshes, and a background poller.
        Callbacks see versions in the order the store learned them, one at a time, and never
        a version that was already replaced.

        On the async twin the callback may be a coroutine function. Called with the callback
        (and awaited), it returns once the store knows the version current now; the
        decorator, which cannot wait, registers the callback at once and reads that version
        in a task of its own, and the store's own writes of ``name`` wait for that read, so
        that they are announced.

        :return: the callback, for :meth:`remove_rotation_listener`.
        """
        self._open(name)
        if callback is not None:
            return self._add_listener(name, callback)

        def register(fn: CallbackT) -> CallbackT:
            self._listeners.add_soon(name, fn)
            return fn

        return register

    def _add_listener(self, name: str, callback: CallbackT) -> CallbackT:
        self._listeners.add(name, callback)
        return callback

    def remove_rotation_listener(self, name: str, callback: RotationCallback) -> bool:
        """Stop calling ``callback`` for ``name``; return whether it was registered."""
        return self._listeners.remove(name, callback)

    @property
    def rotation(self) -> RotationListeners:
        """The store's rotation listeners and poller (``poll_once()`` forces a poll)."""
        return self._listeners

    @property
    def extras(self) -> Extras:
        """The backend's own operations beyond the portable API (``store.extras.restore(name)``
        on AWS, ``purge``/``recover`` on Azure, ...), run through the store's call pipeline:
        the name is checked, a closed store refuses them, errors are helium errors and each
        call is audited. Each backend's page lists its extras."""
        if self._extras is None:
            self._extras = Extras(self)  # the backend's class is scanned once
        return self._extras

    # -- dynamic secrets -------------------------------------------------------------------

    def lease(self, path: str) -> LeasedCredentials:
        """Credentials the service issues under a lease at ``path`` (Vault's
        ``database/creds/ROLE``), kept alive by the store: renewed, replaced before they can no
        longer be extended, and revoked on :meth:`close` (see :class:`LeasePolicy`).

        One lease per path and store: asking again returns a handle on the same lease. Read
        ``.current`` whenever the credentials are needed (each new connection).

        :raises UnsupportedError: the backend issues no leases.
        :raises InvalidArgumentError: ``path`` is not a service path.
        """
        self._pipeline.check_open()
        path = check_lease_path(path, self._backend_name)
        if not self.backend.capabilities.leases:
            raise UnsupportedError(f"the {self._backend_name} backend issues no leases",
                                   backend=self._backend_name, name=path)
        keeper = self._leases
        if keeper is None:
            with self._lease_lock:
                keeper = self._leases
                if keeper is None:
                    keeper = self._leases = LeaseKeeper(
                        self._pipeline, policy=self._lease_policy, clock=self._clock,
                        retry=lambda: self.retry_policy)
        return keeper.hold(path)

    def maintain_leases(self) -> float:
        """Renew or replace the leases that are due now, and return when the next work is due
        (on the store's clock). The keeper's thread calls this; with
        ``LeasePolicy(background=False)``, tests on a virtual clock call it themselves."""
        self._pipeline.check_open()
        return self._leases.tick() if self._leases is not None else float("inf")

    # -- housekeeping ----------------------------------------------------------------------

    def add_audit_hook(self, hook: AuditHook) -> None:
        """Call ``hook`` with an :class:`~helium_secrets.layers.audit.AuditEvent` per operation."""
        self._audit_hooks.append(hook)

    def remove_audit_hook(self, hook: AuditHook) -> None:
        """Stop calling ``hook``."""
        self._audit_hooks.remove(hook)

    def add_call_context(self, context: CallContext) -> None:
        """Enter ``context(operation, name)`` around each operation that reaches the backend
        (retries and its audit event included; a cache hit reaches no backend): a tracing span
        made there is the parent of what the backend's SDK traces meanwhile."""
        self._call_contexts.append(context)

    def remove_call_context(self, context: CallContext) -> None:
        """Stop entering ``context``."""
        self._call_contexts.remove(context)

    def clear_cache(self) -> None:
        """Forget every cached value and "not found" answer."""
        if self._cache is not None:
            self._cache.clear()

    def stats(self) -> StoreStats:
        """Counters: cache hits and misses, stale values served, coalesced waits, backend
        calls, retries, errors, ..."""
        return self.stats_nowait()

    def stats_nowait(self) -> StoreStats:
        """:meth:`stats`, as a plain call on both twins: it reads counters and does no I/O,
        so a thread that cannot wait on the event loop (a metrics reader's) may call it."""
        cache = self._cache
        return self._stats.snapshot(
            evictions=cache.evictions if cache else 0,
            guard_trips=self._guard.trips,
            rotations_polled=self._listeners.polls,
            callback_errors=self._listeners.callback_errors,
            cached=len(cache.entries) if cache else 0,
        )

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def close(self) -> None:
        """Stop background work, drop cached values and release the backend. Idempotent."""
        if self._closed:
            return
        if self._leases is not None:  # before closing: revoking goes through the pipeline
            self._leases.close()
        self._closed = True
        self._listeners.stop()
        self._reads.close()
        if self._cache is not None:
            self._cache.clear()  # also makes the hit path miss and reach the closed check
        self.backend.close()

    def __enter__(self) -> SecretStore:
        self._pipeline.check_open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _after_fork_in_child(self) -> None:
        # Threads do not survive a fork: the child forgets their fetches and takes new locks.
        self._reads.after_fork_in_child()
        self._guard.after_fork_in_child()
        self._lease_lock = ThreadLock()
        if self._leases is not None:
            self._leases.after_fork_in_child()

    def put_json(self, name: str, document: Any, **options: Any) -> Secret:
        """Write ``document`` as JSON, the counterpart of :meth:`get_json`.

        The text is compact with sorted keys, the same on every backend; on Vault a JSON object
        is written as the KV map itself (``bao kv get`` shows its keys), and reads back as
        that text. ``options`` are :meth:`put`'s (``expected_version``, ``metadata``, ...).

        :raises InvalidArgumentError: ``document`` is not JSON (naming its type, never a value).
        """
        self._open(name)
        return self.put(name, json_text(document, name=name, backend=self._backend_name),
                        **options)

    # -- lifecycle -------------------------------------------------------------------------

    def describe(self, name: str) -> Lifecycle:
        """What the service says of ``name``'s life: created, last changed, last rotated, next
        rotation, expiry, last accessed, rotation enabled (never its value). Each backend fills
        what its service tracks (:attr:`Lifecycle.fields <helium_secrets.lifecycle.Lifecycle>`).

        :raises UnsupportedError: the backend cannot describe secrets.
        :raises SecretNotFoundError: no such secret.
        """
        self._open(name)
        self._check_describes(name)
        lifecycle: Lifecycle = self.extras.describe(name)
        return lifecycle

    def _check_describes(self, name: str | None) -> None:
        if "describe" not in dir(self.extras):
            from helium_secrets.errors import UnsupportedError

            raise UnsupportedError(f"the {self._backend_name} backend cannot describe a secret's "
                                   "lifecycle", backend=self._backend_name, name=name)

    def audit(self, prefix: str = "", policy: AuditPolicy | None = None, *,
              now: datetime | None = None) -> builtins.list[AuditFinding]:
        """Describe every secret under ``prefix`` and check it against ``policy`` (age, use,
        expiry). A secret that cannot be described is a finding with its error code; one
        deleted meanwhile is left out.

        :param now: the time to audit at (default: the current UTC time).
        :raises UnsupportedError: the backend cannot describe secrets.
        """
        from datetime import datetime, timezone

        from helium_secrets.errors import HeliumError, SecretNotFoundError, UnsupportedError
        from helium_secrets.lifecycle import AuditFinding, AuditPolicy, evaluate

        self._check_describes(None)
        policy = policy or AuditPolicy()
        when = now or datetime.now(timezone.utc)
        findings: builtins.list[AuditFinding] = []
        for name in self.list(prefix):
            try:
                lifecycle = self.describe(name)
            except SecretNotFoundError:
                continue
            except UnsupportedError:
                raise
            except HeliumError as exc:
                findings.append(AuditFinding(name=name, lifecycle=None, problems=("error",),
                                             error=exc.code.value))
                continue
            findings.append(evaluate(lifecycle, policy, when))
        return findings


class Extras:
    """The backend-specific operations of one store (see :attr:`SecretStore.extras`)."""

    def __init__(self, store: SecretStore) -> None:
        self._store = store
        self._specs: dict[str, ExtraOperation] = extra_operations(store.backend)

    def __dir__(self) -> builtins.list[str]:
        return sorted(self._specs)

    def __repr__(self) -> str:
        names = ", ".join(sorted(self._specs)) or "none"
        return f"<extras of the {self._store.backend.name} backend: {names}>"

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        spec = self._specs.get(operation)
        if spec is None:
            known = ", ".join(sorted(self._specs)) or "none"
            raise AttributeError(f"the {self._store.backend.name} backend has no extra operation "
                                 f"{operation!r} (it has: {known})")
        store = self._store
        method = getattr(store.backend, operation)

        def call(name: str, *args: Any, **kwargs: Any) -> Any:
            store._open(name)
            if spec.writes:
                store.check_writable(name)
            return store._writes.run_extra(operation, name,
                                           lambda: method(name, *args, **kwargs),
                                           spec.writes, store.retry_policy)

        call.__name__ = operation
        call.__doc__ = method.__doc__
        return call
