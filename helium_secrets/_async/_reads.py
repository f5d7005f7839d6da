"""The read path: every read of a secret, written once.

Cache lookup, request coalescing, the negative cache, refresh-ahead, stale-if-error (and the
stale wait: a reader of an expired value is not held up by a slow or silent backend), fencing
against the store's own writes, telling a missing version from a missing secret, and telling
the rotation listeners what was learned. ``get``,
``refresh``, ``get_many`` (cached and batched parts alike), ``current_version`` and the poller
all come through here, so a behaviour fixed once is fixed for all of them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from helium_secrets._async._pipeline import AsyncCallPipeline, copy_error
from helium_secrets._async._rotation import AsyncRotationListeners
from helium_secrets._async._synchronization import AsyncBackground, AsyncFlight, AsyncThreadLock
from helium_secrets._stats import StatsRecorder
from helium_secrets._values import Secret, SecretValue, VersionInfo
from helium_secrets.backends._base import AsyncBackend, Capabilities, RawSecret
from helium_secrets.errors import (
    HeliumError,
    PermissionDeniedError,
    SecretNotFoundError,
    StoreClosedError,
    UnavailableError,
    VersionNotFoundError,
)
from helium_secrets.layers.cache import CacheEntry, SecretCache
from helium_secrets.layers.retry import Clock, RetryPolicy

if TYPE_CHECKING:
    from concurrent.futures import Executor

__all__ = ["AsyncReadPath", "to_secret"]

_log = logging.getLogger("helium_secrets")
_Key = tuple[str, str | None, str | None]


def _same_version(secret: Secret, info: VersionInfo) -> bool:
    return secret.version == info.version and (
        secret.created_at is None or info.created_at is None
        or secret.created_at == info.created_at)


def to_secret(raw: RawSecret) -> Secret:
    """The portable secret for what a backend returned."""
    return Secret(
        name=raw.name,
        value=SecretValue(raw.value),
        version=raw.version,
        labels=frozenset(raw.labels),
        created_at=raw.created_at,
        metadata=raw.metadata,
    )


class _Abandoned(Exception):
    """The caller fetching for the others was interrupted (KeyboardInterrupt, ...): they retry."""


class AsyncReadPath:
    """Reads for one store. Arguments are validated by the store before they get here."""

    def __init__(
        self,
        *,
        pipeline: AsyncCallPipeline,
        cache: SecretCache | None,
        listeners: Callable[[], AsyncRotationListeners],
        ticket: Callable[[], int],
        clock: Clock,
        stats: StatsRecorder,
        default_policy: Callable[[], RetryPolicy],
        executor: Executor | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.backend: AsyncBackend = pipeline.backend
        self.caps: Capabilities = self.backend.capabilities
        self.cache = cache
        self._listeners = listeners
        self._ticket = ticket
        self._clock = clock
        self.stats = stats
        self._default_policy = default_policy
        self._lock = AsyncThreadLock()
        self._inflight: dict[_Key, AsyncFlight] = {}
        self._tasks = AsyncBackground(f"helium-refresh[{pipeline.backend_name}]", executor)
        self._closed = False

    # -- the cache lookup ------------------------------------------------------------------

    def lookup(self, name: str, ttl: float | None) -> tuple[Secret | None, Secret | None]:
        """Look ``name`` up in the cache: ``(hit, None)``, or ``(None, stale)`` where ``stale``
        is a cached value that may stand in if the backend fails or is slow.

        :raises SecretNotFoundError: a remembered "not found" answer.
        """
        cache = self.cache
        if cache is None:
            return None, None
        now = self._clock.monotonic()
        entry = cache.entries.get(name)
        if entry is None:
            return None, None
        if now < entry.expires_at and (ttl is None or now - entry.stored_at < ttl):
            if entry.secret is None:
                self.stats.negative_hits += 1
                self.pipeline.emit("get", name, None, SecretNotFoundError.code, 0.0, "negative", 0)
                raise cache.missing_error(entry, name, self.pipeline.backend_name)
            self.stats.hits += 1
            if now >= entry.refresh_at:
                self.refresh_in_background(name)
            self.pipeline.emit("get", name, entry.secret.version, None, 0.0, "hit", 0)
            return entry.secret, None
        return None, self._stale_candidate(entry, now)

    def _stale_candidate(self, entry: CacheEntry, now: float) -> Secret | None:
        assert self.cache is not None
        limit = self.cache.policy.stale_if_error
        if entry.secret is None or limit <= 0 or now - entry.expires_at > limit:
            return None
        return entry.secret

    # -- single reads ----------------------------------------------------------------------

    async def admit(self) -> None:
        """Wait for this read's turn to start (the async twin lets a few start per turn of
        the event loop, so 1,000 concurrent misses do not run their checks in one turn)."""
        await self._tasks.admit()

    async def get(self, name: str, version: str | None, label: str | None, ttl: float | None,
                  policy: RetryPolicy) -> Secret:
        """Read one version (the current one through the cache)."""
        if version is not None or label is not None or self.cache is None:
            return await self._load((name, version, label), policy, ttl=None, stale=None)
        hit, stale = self.lookup(name, ttl)
        if hit is not None:
            return hit
        # An expired value waits at most the stale wait for the backend (the fetch runs in the
        # background). A per-call ttl asks for a fresh answer: its fetch runs here, and the
        # cached value only covers a transient failure.
        return await self._load((name, None, None), policy, ttl=ttl, stale=stale,
                                background=ttl is None)

    async def refresh(self, name: str, policy: RetryPolicy) -> Secret:
        """Read the current version from the backend; a failure is raised, never stale."""
        self.stats.refreshes += 1
        return await self._load((name, None, None), policy, ttl=None, stale=None)

    async def current_version(self, name: str, policy: RetryPolicy) -> VersionInfo:
        """The current version, by the backend's cheap probe where it has one.

        Without a probe a full read is made, through the cache fill and the listeners, so a
        rotation it reveals costs no second read. A probe that shows the cached value is no
        longer current drops it from the cache.
        """
        if not self.caps.version_probe:
            secret = await self.refresh(name, policy)
            return VersionInfo(secret.version, secret.labels, secret.created_at)
        answer = await self.pipeline.call(
            "probe", name, lambda: self.backend.current_version(name), policy)
        # A backend may answer with the version's creation time too, which tells a secret
        # deleted and created again (its ids starting again at "1") from the one we knew.
        info = answer if isinstance(answer, VersionInfo) else VersionInfo(answer)
        cache = self.cache
        if cache is not None:
            entry = cache.entries.get(name)
            if entry is not None and entry.secret is not None and not _same_version(
                    entry.secret, info):
                cache.invalidate(name)
        return info

    async def _load(self, key: _Key, policy: RetryPolicy, *, ttl: float | None,
              stale: Secret | None, background: bool = False) -> Secret:
        """Fetch ``key``, one backend call for every concurrent caller of the same key."""
        while True:
            with self._lock:
                flight = self._inflight.get(key)
                leader = flight is None
                if flight is None:
                    flight = self._inflight[key] = AsyncFlight(self._clock.monotonic())
            # A fetch of the caller's own (not in the background) is waited for to the end,
            # as the sync twin runs it in the caller: the stale value only covers its failure.
            patient = False
            if leader:
                self.stats.misses += 1
                if (stale is None or not background
                        or not self._tasks.submit(self._run, key, flight, policy, ttl)):
                    patient = True
                    await self._tasks.lead(self._run, key, flight, policy, ttl)
            else:
                self.stats.coalesced += 1
            try:
                return await self._wait(key[0], flight, stale, leader, patient)
            except _Abandoned:
                continue  # the caller fetching for us was interrupted: fetch again

    async def _run(self, key: _Key, flight: AsyncFlight, policy: RetryPolicy, ttl: float | None) -> None:
        name, version, label = key
        try:
            secret, ticket = await self._fetch(name, version, label, policy, ttl)
        except Exception as exc:
            self._release(key, flight)
            flight.resolve(error=exc)
            return
        except BaseException:
            self._release(key, flight)
            flight.resolve(error=_Abandoned())
            raise
        await self._announce(key, flight, secret, ticket)

    async def _announce(self, key: _Key, flight: AsyncFlight, secret: Secret,
                        ticket: int | None) -> None:
        """Tell the listeners what a read learned, then its callers. The read leaves the
        in-flight table first, so that a listener that reads the name starts a read of its
        own instead of waiting on this one for good; the callers get their answer once the
        listeners were told, as when the read is their own."""
        self._release(key, flight)
        try:
            if ticket is not None:
                await self._listeners().observe(secret, ticket)
        finally:
            flight.resolve(secret)

    def _release(self, key: _Key, flight: AsyncFlight) -> None:
        with self._lock:
            if self._inflight.get(key) is flight:
                del self._inflight[key]

    async def _wait(self, name: str, flight: AsyncFlight, stale: Secret | None,
                    leader: bool, patient: bool = False) -> Secret:
        started = time.perf_counter()
        try:
            if stale is None or patient:
                secret = await flight.answer()
            else:
                # The whole stale wait counts from the start of the fetch, not of this reader.
                waited = self._clock.monotonic() - flight.started
                assert self.cache is not None
                budget = max(0.0, self.cache.policy.stale_wait - waited)
                secret = await flight.answer(timeout=budget)
                if secret is None:
                    return self._serve_stale(name, stale, "the backend is slow")
            assert secret is not None
        except _Abandoned:
            raise
        except HeliumError as exc:
            if stale is not None and exc.transient:
                return self._serve_stale(name, stale, exc.code.value)
            if leader:
                raise
            self.pipeline.emit("get", name, None, exc.code, time.perf_counter() - started,
                               "coalesced", 0)
            raise copy_error(exc) from exc.__cause__
        if not leader:
            self.pipeline.emit("get", name, secret.version, None, time.perf_counter() - started,
                               "coalesced", 0)
        return secret

    def _serve_stale(self, name: str, stale: Secret, why: str) -> Secret:
        self.stats.stale_served += 1
        self.pipeline.emit("get", name, stale.version, None, 0.0, "stale", 0, why)
        return stale

    async def _fetch(self, name: str, version: str | None, label: str | None,
                     policy: RetryPolicy, ttl: float | None) -> tuple[Secret, int | None]:
        """One read; the secret, with the ticket to announce it by when it is the current one."""
        current = version is None and label is None
        cache = self.cache
        # A write, delete or clear by this store while we fetch makes our answer outdated.
        generation = cache.generation if cache is not None else 0
        ticket = self._ticket()
        try:
            raw = await self.pipeline.call(
                "get", name, lambda: self.backend.get(name, version, label), policy,
                cache="miss" if current and cache is not None else None, version=version,
            )
        except SecretNotFoundError as exc:
            if type(exc) is not SecretNotFoundError:
                raise
            if current:
                self._learned_missing(name, generation, exc.message)
                raise
            if not await self.exists(name, policy):
                raise
            raise VersionNotFoundError(
                "no such version" if version is not None else "no such label",
                backend=self.pipeline.backend_name, name=name, version=version,
            ) from exc
        secret = to_secret(raw)
        if not current:
            return secret, None
        self._keep(secret, generation, ttl)
        return secret, ticket

    async def exists(self, name: str, policy: RetryPolicy) -> bool:
        """Whether ``name`` exists, after a read of one of its versions or labels found nothing.

        Most services answer a missing secret and a missing version with the same "not found",
        so the store asks the backend's cheapest existence signal once, here for every backend:
        the probe (a read where the backend has none). A secret that answers, whose current
        version is not readable (disabled, deleted: :class:`VersionNotFoundError`), or that the
        caller may not probe (an identity allowed to read versions only) exists. Any other
        failure of the probe is raised: then the store can't tell which is missing.
        """
        try:
            await self.current_version(name, policy)
        except SecretNotFoundError as exc:
            return type(exc) is not SecretNotFoundError
        except PermissionDeniedError:
            pass
        return True

    def _keep(self, secret: Secret, generation: int, ttl: float | None) -> None:
        """Cache what a read learned, unless a write by this store made it outdated meanwhile
        (the listeners are told by the caller, once the readers have their answer)."""
        cache = self.cache
        if cache is not None and not self._closed and cache.generation == generation:
            cache.put(secret.name, secret, self._clock.monotonic(), ttl)

    def _learned_missing(self, name: str, generation: int, message: str) -> None:
        cache = self.cache
        if cache is not None and cache.generation == generation:
            cache.put_missing(name, self._clock.monotonic(), message)

    # -- background refresh ----------------------------------------------------------------

    def refresh_in_background(self, name: str) -> None:
        """Renew a cached value that is near its expiry, while readers keep getting it."""
        key = (name, None, None)
        if key in self._inflight:
            return

        async def run() -> None:
            cache = self.cache
            entry = cache.entries.get(name) if cache is not None else None
            if (entry is not None and entry.secret is not None
                    and self._clock.monotonic() < entry.refresh_at):
                return  # a refresh queued before this one has already renewed it
            try:
                self.stats.refreshes += 1
                # No stale fallback: callers are served the cached value meanwhile anyway.
                await self._load(key, self._default_policy(), ttl=None, stale=None)
            except Exception as exc:  # the cached value stays until it expires
                _log.debug("background refresh of %r failed: %s", name, type(exc).__name__)

        self._tasks.submit(run)

    def confirm(self, name: str) -> None:
        """Read ``name`` afresh in the background, for listeners that got answers they could
        not order (see :meth:`RotationListeners.observe`)."""

        async def run() -> None:
            try:
                await self.refresh(name, self._default_policy())
            except Exception as exc:  # the next read or poll tells instead
                _log.debug("confirming read of %r failed: %s", name, type(exc).__name__)

        self._tasks.submit(run)

    # -- batches ---------------------------------------------------------------------------

    async def get_many(self, names: Sequence[str], ignore_missing: bool,
                       policy: RetryPolicy) -> dict[str, Secret]:
        """The current version of each name: cached ones from the cache, the rest batched
        where the service can, each through the same rules as :meth:`get`."""
        if not self.caps.batch_get:
            found: dict[str, Secret] = {}
            for name in names:
                try:
                    found[name] = await self.get(name, None, None, None, policy)
                except SecretNotFoundError as exc:
                    if not (ignore_missing and type(exc) is SecretNotFoundError):
                        raise
            return found
        results: dict[str, Secret | HeliumError] = {}
        stale: dict[str, Secret | None] = {}
        waiting: dict[str, AsyncFlight] = {}
        mine: dict[str, AsyncFlight] = {}
        for name in names:
            try:
                hit, stale[name] = self.lookup(name, None)
            except SecretNotFoundError as exc:
                results[name] = exc
                continue
            if hit is not None:
                results[name] = hit
                continue
            key = (name, None, None)
            with self._lock:
                flight = self._inflight.get(key)
                if flight is None:
                    flight = mine[name] = self._inflight[key] = AsyncFlight(
                        self._clock.monotonic())
                else:
                    waiting[name] = flight
        self.stats.misses += len(mine)
        self.stats.coalesced += len(waiting)
        batch = list(mine)
        # With a stale value to fall back on, a slow batch costs its readers only the stale wait.
        background = any(stale.get(name) is not None for name in batch)
        for start in range(0, len(batch), self.caps.batch_get):
            chunk = batch[start:start + self.caps.batch_get]
            if not (background and self._tasks.submit(self._fetch_batch, chunk, mine, policy)):
                await self._tasks.lead(self._fetch_batch, chunk, mine, policy)
        for name, flight in {**mine, **waiting}.items():
            try:
                try:
                    results[name] = await self._wait(name, flight, stale.get(name),
                                                     name in mine)
                except _Abandoned:  # the caller fetching it was interrupted: read it again
                    results[name] = await self.get(name, None, None, None, policy)
            except HeliumError as exc:
                results[name] = exc
        found = {}
        for name in names:
            result = results[name]
            if isinstance(result, Secret):
                found[name] = result
            elif not (ignore_missing and type(result) is SecretNotFoundError):
                raise result
        return found

    async def _fetch_batch(self, chunk: list[str], flights: dict[str, AsyncFlight],
                           policy: RetryPolicy) -> None:
        """One batch call for ``chunk``; each name's flight gets its secret or its error."""
        cache = self.cache
        generation = cache.generation if cache is not None else 0
        ticket = self._ticket()
        try:
            answers = await self.pipeline.call(
                "get_many", None, lambda: self.backend.get_many(chunk), policy,
                cache="miss" if cache is not None else None, detail=f"{len(chunk)} names",
            )
            for name in chunk:
                answer = answers.get(name)
                if isinstance(answer, RawSecret):
                    secret = to_secret(answer)
                    self._keep(secret, generation, None)
                    self.pipeline.emit("get", name, secret.version, None, 0.0, "miss", 0,
                                       "get_many")
                    await self._announce((name, None, None), flights[name], secret, ticket)
                    continue
                error = (await self.pipeline.translate(answer, name) if answer is not None
                         else SecretNotFoundError("secret not found",
                                                  backend=self.pipeline.backend_name, name=name))
                if type(error) is SecretNotFoundError:
                    self._learned_missing(name, generation, error.message)
                flights[name].resolve(error=error)
        except Exception as exc:
            error = exc if isinstance(exc, HeliumError) else UnavailableError(
                f"unexpected {type(exc).__name__}", backend=self.pipeline.backend_name)
            for name in chunk:
                flights[name].resolve(error=copy_error(error))
        except BaseException:
            for name in chunk:
                flights[name].resolve(error=_Abandoned())
            raise
        finally:
            for name in chunk:
                self._release((name, None, None), flights[name])

    # -- life cycle ------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Stop background fetches (waiting for those running) and cache nothing more."""
        self._closed = True
        await self._tasks.aclose()
        # A fetch that was queued and cancelled answers its waiters, so that none waits for good.
        with self._lock:
            flights = list(self._inflight.values())
        for flight in flights:
            flight.resolve(error=StoreClosedError("the store was closed",
                                                  backend=self.pipeline.backend_name))

    def after_fork_in_child(self) -> None:
        """Threads do not survive a fork: forget their fetches and locks, start afresh."""
        # No thread waits on those fetches in the child, and their owners are gone: they are
        # dropped, not answered. Any lock a parent's thread held is replaced.
        self._lock = AsyncThreadLock()
        AsyncFlight.after_fork_in_child()
        self._inflight = {}
        self._tasks.after_fork_in_child()
