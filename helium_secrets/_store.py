"""The portable type: :class:`SecretStore`.

Everything shared by all backends lives here, written once: name and value validation, error
normalisation, caching with request coalescing, retry with deadlines, the fail-fast guard,
rotation listeners, audit events and the closed state. Backends stay small (see
:mod:`helium_secrets.backends._base`).
"""

from __future__ import annotations

import builtins
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any, TypeVar, overload

from helium_secrets._values import Secret, SecretValue, VersionInfo
from helium_secrets.backends._base import Backend, Classified, RawSecret, extra_operations
from helium_secrets.errors import (
    ConflictError,
    ErrorCode,
    HeliumError,
    InvalidArgumentError,
    InvalidNameError,
    ReadOnlyError,
    RotationTestFailed,
    SecretNotFoundError,
    StoreClosedError,
    TooLargeError,
    UnavailableError,
    UnsupportedError,
    error_for_code,
)
from helium_secrets.layers.audit import AuditEvent, AuditHook
from helium_secrets.layers.cache import CacheEntry, CachePolicy, SecretCache
from helium_secrets.layers.guard import FailFastGuard, GuardPolicy
from helium_secrets.layers.retry import Clock, RetryPolicy, SystemClock, call_with_retry
from helium_secrets.layers.rotation import PollPolicy, RotationCallback, RotationListeners

__all__ = ["SecretStore", "StoreStats"]

T = TypeVar("T")
_log = logging.getLogger("helium_secrets")
_MAX_NAME = 1024
_DEFAULT_CACHE = CachePolicy()
_DEFAULT_RETRY = RetryPolicy()
_DEFAULT_GUARD = GuardPolicy()
_DEFAULT_POLL = PollPolicy()


@dataclass(frozen=True, slots=True)
class StoreStats(Mapping[str, int]):
    """Counters since the store was opened (see :meth:`SecretStore.stats`).

    Read them as attributes (``stats.hits``) or as a read-only mapping (``stats["hits"]``,
    ``dict(stats)``).
    """

    hits: int
    misses: int
    negative_hits: int
    stale_served: int
    coalesced: int
    refreshes: int
    backend_calls: int
    retries: int
    errors: int
    evictions: int
    guard_trips: int
    rotations_polled: int
    callback_errors: int
    cached: int

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return asdict(self)

    def __getitem__(self, key: str) -> int:
        if key not in self.__dataclass_fields__:
            raise KeyError(key)
        value: int = getattr(self, key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self.__dataclass_fields__)

    def __len__(self) -> int:
        return len(self.__dataclass_fields__)


class SecretStore:
    """Read, write and watch secrets on one backend.

    :param backend: the backend (see :mod:`helium_secrets.backends`); usually built for you by
        :func:`~helium_secrets.open_store`.
    :param cache: the cache policy, or ``None`` for no cache.
    :param retry: the retry policy for transient failures.
    :param guard: the fail-fast guard policy (``GuardPolicy(threshold=0)`` turns it off).
    :param poll: how the rotation poller probes watched names.
    :param audit: hooks that receive an :class:`~helium_secrets.layers.audit.AuditEvent` per
        operation.
    :param clock: the time source (tests pass a fake clock).
    """

    #: The keyword options :func:`~helium_secrets.open_store` passes to the store, not the backend.
    OPTIONS = ("cache", "retry", "guard", "poll", "audit", "clock")

    def __init__(
        self,
        backend: Backend,
        *,
        cache: CachePolicy | None = _DEFAULT_CACHE,
        retry: RetryPolicy = _DEFAULT_RETRY,
        guard: GuardPolicy = _DEFAULT_GUARD,
        poll: PollPolicy = _DEFAULT_POLL,
        audit: Iterable[AuditHook] = (),
        clock: Clock | None = None,
    ) -> None:
        self.backend = backend
        self._backend_name: str = backend.name
        self._caps = backend.capabilities
        self.retry_policy = retry
        self._clock: Clock = clock or SystemClock()
        self._now = self._clock.monotonic
        self._cache = SecretCache(cache) if cache is not None else None
        # The hit path reads this dict directly; an empty dict when caching is off.
        self._entries: dict[str, CacheEntry] = self._cache.entries if self._cache else {}
        self._guard = FailFastGuard(guard)
        self._audit_hooks: list[AuditHook] = list(audit)
        self._closed = False
        self._lock = threading.Lock()
        self._inflight: dict[tuple[str, str | None, str | None], Future[Secret]] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._listeners = RotationListeners(
            backend=self._backend_name,
            policy=poll,
            probe=self.current_version,
            refresh=self.refresh,
            baseline=self.get,
        )
        self._hits = 0
        self._misses = 0
        self._negative_hits = 0
        self._stale = 0
        self._coalesced = 0
        self._refreshes = 0
        self._backend_calls = 0
        self._retries = 0
        self._errors = 0

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<SecretStore backend={self._backend_name!r} {state}>"

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
                self._hits += 1
                if self._audit_hooks:
                    self._emit("get", name, entry.secret.version, None, 0.0, "hit", 0)
                return entry.secret
        return self._get(name, version, label, ttl, retry)

    def _get(
        self,
        name: str,
        version: str | None,
        label: str | None,
        ttl: float | None,
        retry: RetryPolicy | None,
    ) -> Secret:
        self._check_open()
        self._check_name(name)
        if version is not None and label is not None:
            raise InvalidArgumentError("give a version or a label, not both",
                                       backend=self._backend_name, name=name)
        if label is not None and not self._caps.labels:
            raise self._no_labels(name)
        if ttl is not None and ttl < 0:
            raise InvalidArgumentError("ttl must not be negative",
                                       backend=self._backend_name, name=name)
        policy = retry or self.retry_policy
        if version is not None or label is not None or self._cache is None:
            return self._load(name, version, label, policy, ttl=None)
        now = self._now()
        entry = self._entries.get(name)
        if entry is not None and now < entry.expires_at:
            fresh_enough = ttl is None or now - entry.stored_at < ttl
            if entry.secret is None and fresh_enough:
                self._negative_hits += 1
                self._emit("get", name, None, SecretNotFoundError.code, 0.0, "negative", 0)
                raise self._cache.missing_error(entry, name, self._backend_name)
            if entry.secret is not None and fresh_enough:
                self._hits += 1
                if now >= entry.refresh_at:
                    self._refresh_in_background(name)
                if self._audit_hooks:
                    self._emit("get", name, entry.secret.version, None, 0.0, "hit", 0)
                return entry.secret
        return self._load(name, None, None, policy, ttl=ttl, stale=entry)

    def _load(
        self,
        name: str,
        version: str | None,
        label: str | None,
        policy: RetryPolicy,
        *,
        ttl: float | None,
        stale: CacheEntry | None = None,
    ) -> Secret:
        """Fetch from the backend, one call for all concurrent callers of the same key."""
        key = (name, version, label)
        with self._lock:
            future = self._inflight.get(key)
            leader = future is None
            if future is None:
                future = self._inflight[key] = Future()
        if not leader:
            self._coalesced += 1
            started = time.perf_counter()
            try:
                secret = future.result()
            except HeliumError as exc:
                self._emit("get", name, version, exc.code, time.perf_counter() - started,
                           "coalesced", 0)
                raise _copy_error(exc) from exc.__cause__
            if self._audit_hooks:
                self._emit("get", name, secret.version, None, time.perf_counter() - started,
                           "coalesced", 0)
            return secret
        try:
            self._misses += 1
            secret = self._fetch(name, version, label, policy, stale=stale, ttl=ttl)
        except BaseException as exc:
            future.set_exception(exc)
            raise
        else:
            future.set_result(secret)
            return secret
        finally:
            with self._lock:
                del self._inflight[key]

    def _fetch(
        self,
        name: str,
        version: str | None,
        label: str | None,
        policy: RetryPolicy,
        *,
        stale: CacheEntry | None,
        ttl: float | None,
    ) -> Secret:
        current = version is None and label is None
        # A write, delete or clear by this store while we fetch makes our answer outdated.
        generation = self._cache.generation if self._cache is not None else 0
        try:
            raw = self._call(
                "get",
                name,
                lambda: self.backend.get(name, version, label),
                policy,
                cache="miss" if current and self._cache else None,
                version=version,
            )
        except SecretNotFoundError as exc:
            if (current and self._cache is not None and type(exc) is SecretNotFoundError
                    and self._cache.generation == generation):
                self._cache.put_missing(name, self._now(), exc.message)
            raise
        except HeliumError as exc:
            if (
                exc.transient
                and stale is not None
                and stale.secret is not None
                and self._cache is not None
                and self._cache.policy.stale_if_error > 0
                and self._now() - stale.expires_at <= self._cache.policy.stale_if_error
            ):
                self._stale += 1
                self._emit("get", name, stale.secret.version, None, 0.0, "stale", 0)
                return stale.secret
            raise
        secret = _to_secret(raw)
        if current:
            if (self._cache is not None and not self._closed
                    and self._cache.generation == generation):
                self._cache.put(name, secret, self._now(), ttl)
            self._listeners.observe(secret)
        return secret

    def _refresh_in_background(self, name: str) -> None:
        key = (name, None, None)
        if key in self._inflight or self._closed:
            return
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=2, thread_name_prefix=f"helium-refresh[{self._backend_name}]"
                )
            executor = self._executor

        def run() -> None:
            entry = self._entries.get(name)
            if entry is not None and entry.secret is not None and self._now() < entry.refresh_at:
                return  # a refresh queued before this one has already renewed it
            try:
                self._refreshes += 1
                # No stale fallback: callers are served the cached value meanwhile anyway.
                self._load(name, None, None, self.retry_policy, ttl=None, stale=None)
            except Exception as exc:  # the cached value stays until it expires
                _log.debug("background refresh of %r failed: %s", name, type(exc).__name__)

        with contextlib.suppress(RuntimeError):  # shut down by close() meanwhile
            executor.submit(run)

    def refresh(self, name: str) -> Secret:
        """Read the current version of ``name`` from the backend, bypassing the cache once.

        Unlike :meth:`get`, a failure is raised even when a stale cached value exists.
        """
        self._check_open()
        self._check_name(name)
        self._refreshes += 1
        # No stale fallback: the caller asked for the backend's answer, so a failure is raised.
        return self._load(name, None, None, self.retry_policy, ttl=None)

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
        try:
            document = secret.value.reveal_json()
        except ValueError:
            raise InvalidArgumentError(
                "the secret value is not valid JSON", backend=self._backend_name, name=name
            ) from None
        if field is None:
            return document
        path = field.split(".") if isinstance(field, str) else list(field)
        node = document
        for key in path:
            try:
                if isinstance(node, list):
                    node = node[int(key)]
                elif isinstance(node, dict):
                    node = node[str(key)]
                else:
                    raise KeyError(key)
            except (KeyError, IndexError, ValueError):
                raise InvalidArgumentError(
                    f"field {field!r} is not in the secret's JSON document",
                    backend=self._backend_name,
                    name=name,
                ) from None
        return node

    def get_many(
        self, names: Iterable[str], *, ignore_missing: bool = False
    ) -> dict[str, Secret]:
        """Return the current version of several secrets, batched where the service can.

        Cached values are served from the cache; the rest are fetched together.

        :param ignore_missing: leave out names that do not exist instead of raising.
        :raises SecretNotFoundError: a name does not exist (unless ``ignore_missing``).
        """
        self._check_open()
        wanted = list(dict.fromkeys(names))
        for name in wanted:
            self._check_name(name)
        found: dict[str, Secret] = {}
        missing: list[str] = []
        now = self._now()
        for name in wanted:
            entry = self._entries.get(name)
            if entry is not None and entry.secret is not None and now < entry.expires_at:
                self._hits += 1
                found[name] = entry.secret
            else:
                missing.append(name)
        if missing and self._caps.batch_get:
            self._misses += len(missing)
            results = self._call(
                "get_many", None, lambda: self.backend.get_many(missing), self.retry_policy,
                detail=f"{len(missing)} names",
            )
            for name in missing:
                result = results.get(name)
                if isinstance(result, RawSecret):
                    secret = _to_secret(result)
                    if self._cache is not None:
                        self._cache.put(name, secret, self._now())
                    self._listeners.observe(secret)
                    found[name] = secret
                    continue
                error = (
                    self._translate(result, name)
                    if result is not None
                    else SecretNotFoundError("secret not found", backend=self._backend_name,
                                             name=name)
                )
                if ignore_missing and type(error) is SecretNotFoundError:
                    continue
                raise error from result
        else:
            for name in missing:
                try:
                    found[name] = self._get(name, None, None, None, None)
                except SecretNotFoundError as exc:
                    if not ignore_missing or type(exc) is not SecretNotFoundError:
                        raise
        return {name: found[name] for name in wanted if name in found}

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield the names of the secrets that start with ``prefix``, sorted."""
        self._check_open()
        if not isinstance(prefix, str) or any(ord(c) < 32 for c in prefix):
            raise InvalidArgumentError("the prefix must be a string without control characters",
                                       backend=self._backend_name)
        names = self._call(
            "list", None, lambda: sorted(self.backend.list_names(prefix)), self.retry_policy,
            detail=f"prefix={prefix!r}",
        )
        return iter(names)

    def versions(self, name: str) -> builtins.list[VersionInfo]:
        """Return the versions of ``name``, oldest first, with their labels and states."""
        self._check_open()
        self._check_name(name)
        return self._call(
            "versions", name, lambda: list(self.backend.list_versions(name)), self.retry_policy
        )

    def current_version(self, name: str) -> str:
        """Return the id of the current version, with the backend's cheapest call."""
        self._check_open()
        self._check_name(name)
        return self._call(
            "probe", name, lambda: self.backend.current_version(name), self.retry_policy
        )

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
        :param metadata: tags / labels / custom metadata for the secret (backend-specific).
        :param labels: labels (stages, aliases) to move onto the new version.
        :raises ConflictError: the check-and-set or create-only condition failed.
        :raises TooLargeError: the value exceeds the backend's limit (checked before any call).
        """
        self._check_open()
        self._check_name(name)
        raw = value.reveal_bytes() if isinstance(value, SecretValue) and value.is_binary else (
            value.reveal() if isinstance(value, SecretValue) else value
        )
        self._check_value(name, raw)
        self._check_writable(name)
        if metadata is not None and not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            raise InvalidArgumentError("metadata keys and values must be strings",
                                       backend=self._backend_name, name=name)
        labels = tuple(labels)
        if labels and not self._caps.labels:
            raise self._no_labels(name)
        if expected_version is not None and create_only:
            raise InvalidArgumentError("give expected_version or create_only, not both",
                                       backend=self._backend_name, name=name)
        guarded = expected_version is not None or create_only
        token = os.urandom(16).hex()
        policy = retry or self.retry_policy
        if not (guarded or self._caps.idempotent_put):
            policy = policy.replace(max_attempts=1)  # a blind retry could write twice
        attempts = 0

        def attempt() -> VersionInfo:
            nonlocal attempts
            attempts += 1
            return self.backend.put(
                name, raw, expected_version=expected_version, create_only=create_only,
                request_token=token, metadata=metadata, labels=labels,
            )

        try:
            info = self._call("put", name, attempt, policy, scrub=raw)
        except ConflictError:
            # A check-and-set put retried after a lost answer conflicts with itself: if the
            # current value is ours, the first attempt won.
            if attempts > 1 and guarded:
                current = self._fetch(name, None, None, policy, stale=None, ttl=None)
                if current.value == SecretValue(raw):
                    return current
            raise
        secret = Secret(
            name=name,
            value=SecretValue(raw),
            version=info.version,
            labels=info.labels,
            created_at=info.created_at,
            metadata=MappingProxyType(dict(metadata or {})),
        )
        if self._cache is not None:
            # Invalidate rather than cache what we wrote: the secret's full metadata (and any
            # labels the service moved) are only known from a read. Reads in flight that began
            # before this write do not cache their older answer either.
            self._cache.invalidate(name)
        self._listeners.observe(secret)
        return secret

    def delete(self, name: str, *, purge: bool = False) -> None:
        """Delete ``name`` and all its versions.

        :param purge: skip the service's recovery window where it has one.
        :raises SecretNotFoundError: no such secret.
        """
        self._check_open()
        self._check_name(name)
        self._check_writable(name)
        attempts = 0

        def attempt() -> None:
            nonlocal attempts
            attempts += 1
            self.backend.delete(name, purge=purge)

        try:
            self._call("delete", name, attempt, self.retry_policy)
        except SecretNotFoundError:
            if attempts <= 1:  # a retried delete whose first attempt succeeded is done
                raise
        finally:
            if self._cache is not None:
                self._cache.invalidate(name)
        self._listeners.forget(name)

    def set_label(self, name: str, label: str, version: str | None) -> None:
        """Move ``label`` to ``version`` of ``name``, or remove it when ``version`` is None."""
        self._check_open()
        self._check_name(name)
        self._check_writable(name)
        if not self._caps.labels:
            raise self._no_labels(name)
        self._call("set_label", name, lambda: self.backend.set_label(name, label, version),
                   self.retry_policy, version=version)
        if self._cache is not None:
            self._cache.invalidate(name)

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
        self._check_open()
        self._check_name(name)
        self._check_writable(name)
        value = generator()
        self._check_value(name, value)
        try:
            current: str | None = self.current_version(name)
        except SecretNotFoundError as exc:
            if type(exc) is not SecretNotFoundError:
                raise
            current = None
        return self.put(name, value, expected_version=current, create_only=current is None,
                        metadata=metadata)

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
        Each backend stages with what its service has (AWS stages, GCP aliases, ...); its
        documentation page says how.

        :raises UnsupportedError: the backend has no staging.
        :raises ConflictError: someone else rotated the secret meanwhile.
        :raises RotationTestFailed: the test rejected the pending value (it was discarded).
        """
        self._check_open()
        self._check_name(name)
        self._check_writable(name)
        if not self._caps.staging:
            raise UnsupportedError(f"the {self._backend_name} backend has no staged rotation",
                                   backend=self._backend_name, name=name)
        value = generator()
        self._check_value(name, value)
        current = self.current_version(name)
        token = os.urandom(16).hex()
        info = self._call(
            "stage", name,
            lambda: self.backend.stage(name, value, expected_current=current, request_token=token),
            self.retry_policy, scrub=value,
        )
        pending = Secret(name=name, value=SecretValue(value), version=info.version,
                         labels=info.labels, created_at=info.created_at)
        try:
            passed = test(pending)
        except Exception as exc:
            self._discard(name, info.version)
            raise RotationTestFailed(name, info.version) from exc
        if passed is False:
            self._discard(name, info.version)
            raise RotationTestFailed(name, info.version)
        try:
            self._call(
                "promote", name,
                lambda: self.backend.promote(name, info.version, expected_current=current),
                self.retry_policy, version=info.version,
            )
        except ConflictError:
            # A promotion retried after a lost answer conflicts with itself.
            if self.current_version(name) != info.version:
                raise
        promoted = self.refresh(name)  # caches it and tells the rotation listeners
        return promoted

    def _discard(self, name: str, version: str) -> None:
        try:
            self._call("discard", name, lambda: self.backend.discard(name, version),
                       self.retry_policy, version=version)
        except HeliumError as exc:  # the rotation already failed; report, don't mask it
            _log.error("could not discard pending version %s of %r: %s", version, name, exc.code)

    def previous(self, name: str) -> Secret | None:
        """The version that was current before the current one, for grace periods
        (accept a token signed with the current or the previous key); ``None`` if there is none.
        """
        self._check_open()
        self._check_name(name)
        current = self.current_version(name)
        versions = self.versions(name)
        position = next((i for i, v in enumerate(versions) if v.version == current), None)
        if position is None:
            return None
        for candidate in reversed(versions[:position]):
            if candidate.enabled:
                return self.get(name, candidate.version)
        return None


    @overload
    def on_rotation(self, name: str) -> Callable[[RotationCallback], RotationCallback]: ...
    @overload
    def on_rotation(self, name: str, callback: RotationCallback) -> RotationCallback: ...

    def on_rotation(
        self, name: str, callback: RotationCallback | None = None
    ) -> RotationCallback | Callable[[RotationCallback], RotationCallback]:
        """Call ``callback(old, new)`` whenever ``name`` gets a new current version.

        Works as a decorator too (``@store.on_rotation("app/db")``). The store notices new
        versions through its own writes, its reads and refreshes, and a background poller.

        :return: the callback, for :meth:`remove_rotation_listener`.
        """
        self._check_open()
        self._check_name(name)
        if callback is None:
            def decorator(fn: RotationCallback) -> RotationCallback:
                self._listeners.add(name, fn)
                return fn

            return decorator
        self._listeners.add(name, callback)
        return callback

    def remove_rotation_listener(self, name: str, callback: RotationCallback) -> bool:
        """Stop calling ``callback`` for ``name``; return whether it was registered."""
        return self._listeners.remove(name, callback)

    @property
    def extras(self) -> Extras:
        """The backend's own operations beyond the portable API (``store.extras.restore(name)``
        on AWS, ``purge``/``recover`` on Azure, ...), run through the store's call pipeline:
        the name is checked, a closed store refuses them, errors are helium errors and each
        call is audited. Each backend's page lists its extras."""
        return Extras(self)

    @property
    def rotation(self) -> RotationListeners:
        """The store's rotation listeners and poller (``poll_once()`` forces a poll)."""
        return self._listeners

    # -- housekeeping ----------------------------------------------------------------------

    def add_audit_hook(self, hook: AuditHook) -> None:
        """Call ``hook`` with an :class:`~helium_secrets.layers.audit.AuditEvent` per operation."""
        self._audit_hooks.append(hook)

    def remove_audit_hook(self, hook: AuditHook) -> None:
        """Stop calling ``hook``."""
        self._audit_hooks.remove(hook)

    def clear_cache(self) -> None:
        """Forget every cached value and "not found" answer."""
        if self._cache is not None:
            self._cache.clear()

    def stats(self) -> StoreStats:
        """Counters: cache hits and misses, stale values served, coalesced waits, backend
        calls, retries, errors, ..."""
        cache = self._cache
        return StoreStats(
            hits=self._hits,
            misses=self._misses,
            negative_hits=self._negative_hits,
            stale_served=self._stale,
            coalesced=self._coalesced,
            refreshes=self._refreshes,
            backend_calls=self._backend_calls,
            retries=self._retries,
            errors=self._errors,
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
        self._closed = True
        self._listeners.stop()
        executor = self._executor
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
        if self._cache is not None:
            self._cache.clear()  # also makes the hit path miss and reach _check_open
        self.backend.close()

    def __enter__(self) -> SecretStore:
        self._check_open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals -------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("the store is closed", backend=self._backend_name)

    def _check_name(self, name: str) -> None:
        problem = _portable_name_problem(name)
        if problem is None:
            problem = self._caps.name_rules.problem(name)
        if problem is not None:
            shown = name if isinstance(name, str) else None
            raise InvalidNameError(f"invalid secret name: {problem}", backend=self._backend_name,
                                   name=shown)

    def _check_value(self, name: str, value: object) -> None:
        if not isinstance(value, (str, bytes)):
            raise InvalidArgumentError(
                f"a secret value is str or bytes, not {type(value).__name__}",
                backend=self._backend_name, name=name,
            )
        if isinstance(value, bytes) and not self._caps.binary:
            raise InvalidArgumentError(
                f"the {self._backend_name} backend stores text only; pass a str",
                backend=self._backend_name, name=name,
            )
        limit = self._caps.max_value_bytes
        if limit is not None:
            size = len(value) if isinstance(value, bytes) else _utf8_len(value, limit)
            if size > limit:
                raise TooLargeError(
                    f"the value is {size} bytes; the {self._backend_name} backend takes at "
                    f"most {limit}",
                    backend=self._backend_name, name=name,
                )

    def _no_labels(self, name: str) -> UnsupportedError:
        return UnsupportedError(f"the {self._backend_name} backend has no labels",
                                backend=self._backend_name, name=name)

    def _check_writable(self, name: str) -> None:
        if self._caps.read_only:
            raise ReadOnlyError(f"the {self._backend_name} backend is read-only",
                                backend=self._backend_name, name=name)

    def _call(
        self,
        operation: str,
        name: str | None,
        fn: Callable[[], T],
        policy: RetryPolicy,
        *,
        cache: str | None = None,
        version: str | None = None,
        scrub: str | bytes | None = None,
        detail: str | None = None,
    ) -> T:
        """Run one backend operation with the guard, retries, error mapping and an audit event."""
        started = time.perf_counter()
        attempts = 0
        wait = self._guard.admit(self._now())
        if wait is not None:
            pause = (f"paused for {wait:.1f}s" if wait > 0
                     else "paused while a trial call checks whether it is back")
            error: HeliumError = UnavailableError(
                f"calls to the backend are {pause} after repeated failures",
                backend=self._backend_name, name=name,
            )
            self._errors += 1
            self._emit(operation, name, version, error.code, time.perf_counter() - started,
                       cache, 0, detail)
            raise error

        def attempt() -> T:
            nonlocal attempts
            attempts += 1
            self._backend_calls += 1
            try:
                return fn()
            except HeliumError as exc:
                _fill_context(exc, self._backend_name, name, scrub, version)
                raise
            except Exception as exc:
                raise self._translate(exc, name, scrub, version) from exc

        def on_retry(exc: HeliumError, delay: float) -> None:
            self._retries += 1

        try:
            result = call_with_retry(attempt, policy, self._clock, on_retry=on_retry)
        except HeliumError as exc:
            self._errors += 1
            if exc.transient:
                self._guard.record_failure(self._now())
            else:
                self._guard.record_success()
            self._emit(operation, name, version, exc.code, time.perf_counter() - started,
                       cache, attempts, detail)
            raise
        self._guard.record_success()
        if self._audit_hooks:
            got = getattr(result, "version", version)
            self._emit(operation, name, got if isinstance(got, str) else version, None,
                       time.perf_counter() - started, cache, attempts, detail)
        return result

    def _translate(
        self,
        exc: BaseException,
        name: str | None,
        scrub: str | bytes | None = None,
        version: str | None = None,
    ) -> HeliumError:
        if isinstance(exc, HeliumError):
            _fill_context(exc, self._backend_name, name, scrub, version)
            return exc
        try:
            verdict = self.backend.classify(exc)
        except Exception:  # a classifier bug must not hide the original error
            verdict = None
        if verdict is None:
            verdict = Classified(ErrorCode.UNKNOWN, f"unexpected {type(exc).__name__}")
        message = verdict.message or f"{verdict.code.value.replace('_', ' ')}"
        return error_for_code(verdict.code)(
            _scrubbed(message, scrub),
            backend=self._backend_name,
            name=name,
            version=version,
            transient=verdict.transient,
            retry_after=verdict.retry_after,
        )

    def _emit(
        self,
        operation: str,
        name: str | None,
        version: str | None,
        error_code: ErrorCode | None,
        latency: float,
        cache: str | None,
        attempts: int,
        detail: str | None = None,
    ) -> None:
        if not self._audit_hooks:
            return
        event = AuditEvent(
            timestamp=time.time(),
            backend=self._backend_name,
            operation=operation,
            name=name,
            version=version,
            outcome="ok" if error_code is None else "error",
            error_code=error_code.value if error_code is not None else None,
            latency_s=latency,
            cache=cache,
            attempts=attempts,
            detail=detail,
        )
        for hook in list(self._audit_hooks):
            try:
                hook(event)
            except Exception as exc:  # auditing never breaks the application
                _log.warning("audit hook %r failed: %s", hook, type(exc).__name__)


class Extras:
    """The backend-specific operations of one store (see :attr:`SecretStore.extras`)."""

    def __init__(self, store: SecretStore) -> None:
        self._store = store
        self._specs = extra_operations(store.backend)

    def __dir__(self) -> builtins.list[str]:
        return sorted(self._specs)

    def __repr__(self) -> str:
        return f"<extras of the {self._store._backend_name} backend: {', '.join(sorted(self._specs))}>"

    def __getattr__(self, operation: str) -> Callable[..., Any]:
        spec = self._specs.get(operation)
        if spec is None:
            known = ", ".join(sorted(self._specs)) or "none"
            raise AttributeError(
                f"the {self._store._backend_name} backend has no extra operation "
                f"{operation!r} (it has: {known})"
            )
        store = self._store
        method = getattr(store.backend, operation)

        def call(name: str, *args: Any, **kwargs: Any) -> Any:
            store._check_open()
            store._check_name(name)
            if spec.writes:
                store._check_writable(name)
            try:
                return store._call(operation, name, lambda: method(name, *args, **kwargs),
                                   store.retry_policy)
            finally:
                if spec.writes and store._cache is not None:
                    store._cache.invalidate(name)

        call.__name__ = operation
        call.__doc__ = method.__doc__
        return call


def _to_secret(raw: RawSecret) -> Secret:
    return Secret(
        name=raw.name,
        value=SecretValue(raw.value),
        version=raw.version,
        labels=frozenset(raw.labels),
        created_at=raw.created_at,
        metadata=raw.metadata,
    )


def _portable_name_problem(name: object) -> str | None:
    if not isinstance(name, str):
        return f"a name is a string, not {type(name).__name__}"
    if not name:
        return "the name is empty"
    if len(name) > _MAX_NAME:
        return f"longer than {_MAX_NAME} characters"
    if name.startswith("/") or name.endswith("/"):
        return "a name does not start or end with '/'"
    for segment in name.split("/"):
        if not segment:
            return "empty segment ('//')"
        if segment in (".", ".."):
            return f"segment {segment!r} is not allowed"
    if any(ord(c) < 32 or ord(c) == 127 or c.isspace() for c in name):
        return "names contain no whitespace or control characters"
    return None


def _utf8_len(text: str, limit: int) -> int:
    # Short strings cannot exceed the limit even at 4 bytes a character: skip the encode.
    return len(text) if len(text) * 4 <= limit else len(text.encode("utf-8", "surrogatepass"))


def _scrubbed(message: str, secret: str | bytes | None) -> str:
    """Remove a value we were writing from a message, should a service have echoed it."""
    if not secret:
        return message
    text = secret if isinstance(secret, str) else secret.decode("utf-8", "replace")
    if len(text) >= 4 and text in message:
        return message.replace(text, "**********")
    return message


def _fill_context(
    exc: HeliumError,
    backend: str,
    name: str | None,
    scrub: str | bytes | None,
    version: str | None = None,
) -> None:
    if exc.backend is None:
        exc.backend = backend
    if exc.name is None:
        exc.name = name
    if exc.version is None:
        exc.version = version
    exc.message = _scrubbed(exc.message, scrub)
    exc.args = (exc.message,)


def _copy_error(exc: HeliumError) -> HeliumError:
    """A fresh instance for each coalesced waiter: one exception raised in many threads
    would collect all their tracebacks."""
    return type(exc)(
        exc.message,
        backend=exc.backend,
        name=exc.name,
        version=exc.version,
        transient=exc.transient,
        retry_after=exc.retry_after,
    )

