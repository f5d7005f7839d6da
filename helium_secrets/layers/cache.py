"""The read cache: TTL, bounded size, refresh-ahead, stale-if-error and negative entries.

The store owns the decisions (when to fetch, when to serve stale); this module holds the policy
and the entries. An entry stores its deadlines as absolute monotonic times computed once at
insert, so the hit path is one dict lookup and one float comparison.
"""

from __future__ import annotations

import random
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

from helium_secrets._values import Secret
from helium_secrets.errors import SecretNotFoundError
from helium_secrets.redaction import redactor

__all__ = ["CacheEntry", "CachePolicy", "SecretCache"]


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """How a store caches reads of current versions. Immutable: derive with :meth:`replace`.

    :param ttl: seconds a value is served from the cache.
    :param max_entries: the most secrets kept; when full, the one fetched longest ago goes.
    :param refresh_ahead: the last fraction of ``ttl`` in which a read triggers a background
        refresh while still getting the cached value; the exact moment is jittered between
        half and all of it, and a value fetched cold is first due at a random moment of its
        period, so a fleet does not refresh in lock-step (0 turns it off; see
        :meth:`SecretCache.put`).
    :param stale_if_error: seconds past expiry during which the old value is served when the
        backend fails with a transient error (0 turns it off).
    :param negative_ttl: seconds a "not found" answer is remembered (0 turns it off).
    :param stale_wait: seconds a reader of an expired value that ``stale_if_error`` still
        covers waits for the backend (reads with a per-call ``ttl`` excepted); past it the
        reader gets the stale value while the fetch goes on in the background and fills the
        cache when it answers. A slow or
        silent backend thus costs such a reader at most this long (0: serve the stale value
        at once and refresh behind it).
    """

    ttl: float = 300.0
    max_entries: int = 1024
    refresh_ahead: float = 0.2
    stale_if_error: float = 900.0
    negative_ttl: float = 5.0
    stale_wait: float = 1.0

    def __post_init__(self) -> None:
        if min(self.ttl, self.stale_if_error, self.negative_ttl, self.stale_wait) < 0:
            raise ValueError("CachePolicy durations must not be negative")
        if self.max_entries < 1:
            raise ValueError("CachePolicy.max_entries must be at least 1")
        if not 0 <= self.refresh_ahead < 1:
            raise ValueError("CachePolicy.refresh_ahead is a fraction in [0, 1)")

    def replace(self, **changes: object) -> CachePolicy:
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)  # type: ignore[arg-type]


class CacheEntry:
    """One cached answer: a secret, or a remembered "not found" (``secret is None``)."""

    __slots__ = ("expires_at", "missing_message", "refresh_at", "secret", "stored_at")

    def __init__(
        self,
        secret: Secret | None,
        stored_at: float,
        refresh_at: float,
        expires_at: float,
        missing_message: str = "",
    ) -> None:
        self.secret = secret
        #: For a remembered "not found": the backend's message, repeated on each cached answer.
        self.missing_message = missing_message
        self.stored_at = stored_at
        #: Until this moment a read is a plain hit; after it, a hit also schedules a refresh.
        self.refresh_at = refresh_at
        self.expires_at = expires_at


def _raw(secret: Secret) -> str | bytes:
    value = secret.value
    return value.reveal_bytes() if value.is_binary else value.reveal()


def _tell(added: CacheEntry | None, removed: Iterable[CacheEntry | None]) -> None:
    """Tell the redactor which values the cache took and let go of."""
    if added is not None and added.secret is not None:
        redactor.add(_raw(added.secret))
    for entry in removed:
        if entry is not None and entry.secret is not None:
            redactor.discard(_raw(entry.secret))


def _forget(entries: dict[str, CacheEntry]) -> None:
    if redactor.filters:
        _tell(None, list(entries.values()))


class SecretCache:
    """The entries of one store, keyed by secret name (current versions only)."""

    def __init__(
        self, policy: CachePolicy, rng: Callable[[], float] = random.random
    ) -> None:
        self.policy = policy
        self.entries: dict[str, CacheEntry] = {}
        self._rng = rng
        self.evictions = 0
        #: Bumped by the store's own writes, deletes and clears: a fetch that began before
        #: a bump does not cache what it read.
        self.generation = 0
        redactor.watch(self)
        # A store collected without close() lets go of its values too.
        weakref.finalize(self, _forget, self.entries)

    def secret_values(self) -> Iterator[str | bytes]:
        """The values cached now (for :mod:`helium_secrets.redaction`)."""
        for entry in list(self.entries.values()):
            if entry.secret is not None:
                yield _raw(entry.secret)

    def put(self, name: str, secret: Secret, now: float, ttl: float | None = None) -> None:
        """Cache ``secret`` as the current version of ``name``.

        With refresh-ahead, the next refresh is due one period (``ttl`` less a jittered part
        of the refresh-ahead window) after the previous one was due, not after this fetch: a
        refresh held back by an outage or a late reader keeps its place in the cycle, so
        stores that were spread out stay spread out. A value with no place to keep (fetched
        cold, or a whole period late) is first due at a random moment of its period, so that
        stores which fetched together (a fleet's start, a recovery) do not refresh together.
        """
        ttl = self.policy.ttl if ttl is None else ttl
        ahead = ttl * self.policy.refresh_ahead * (0.5 + 0.5 * self._rng())
        period = ttl - ahead
        due = self._due(name)
        if not ahead:
            refresh_at = now + ttl
        elif due is None or now >= due + period:
            refresh_at = now + period * self._rng()
        else:  # late: one period after it was due; early (an explicit refresh): after now
            refresh_at = min(due, now) + period
        self._insert(name, CacheEntry(secret, now, refresh_at, now + ttl))

    def _due(self, name: str) -> float | None:
        """When the cached value of ``name`` was (or is) due for a refresh, if one is cached."""
        entry = self.entries.get(name)
        return entry.refresh_at if entry is not None and entry.secret is not None else None

    def put_missing(self, name: str, now: float, message: str) -> None:
        """Remember that ``name`` does not exist, for ``negative_ttl`` seconds.

        :param message: the backend's "not found" message, which cached answers repeat.
        """
        ttl = self.policy.negative_ttl
        if ttl > 0:
            self._insert(name, CacheEntry(None, now, now + ttl, now + ttl, message))

    def _insert(self, name: str, entry: CacheEntry) -> None:
        entries = self.entries
        telling = redactor.filters
        if telling:  # before it is in: an entry is told once as added, then once as removed
            _tell(entry, ())
        # Re-insert at the end: the dict's order is the fetch order.
        removed = [entries.pop(name, None)]
        while len(entries) >= self.policy.max_entries:
            try:
                removed.append(entries.pop(next(iter(entries))))
            except (StopIteration, KeyError, RuntimeError):  # raced with another thread
                break
            self.evictions += 1
        entries[name] = entry
        if telling:
            _tell(None, removed)

    def invalidate(self, name: str) -> None:
        """Forget ``name``."""
        self.generation += 1
        removed = self.entries.pop(name, None)
        if redactor.filters:
            _tell(None, [removed])

    def clear(self) -> None:
        """Forget everything."""
        self.generation += 1
        if not redactor.filters:
            self.entries.clear()
            return
        # One entry at a time: each is removed (and told) by one thread only.
        while True:
            try:
                _, entry = self.entries.popitem()
            except KeyError:
                return
            _tell(None, (entry,))

    @staticmethod
    def missing_error(entry: CacheEntry, name: str, backend: str) -> SecretNotFoundError:
        """The error a remembered "not found" raises (a fresh one each time)."""
        message = entry.missing_message or "secret not found"
        return SecretNotFoundError(f"{message} (cached answer)", backend=backend, name=name)
