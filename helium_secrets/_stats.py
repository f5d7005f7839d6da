"""The store's counters: one recorder the collaborators add to, one immutable snapshot users read."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, fields

__all__ = ["StatsRecorder", "StoreStats"]


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


class StatsRecorder:
    """The counters the store's collaborators increment (plain ints: ``+=`` on the hot path).

    Counters that other parts own (evictions, guard trips, polls, callback errors, cache size)
    are read from them when a snapshot is taken.
    """

    __slots__ = ("backend_calls", "coalesced", "errors", "hits", "misses", "negative_hits",
                 "refreshes", "retries", "stale_served")

    def __init__(self) -> None:
        self.hits = 0
        self.misses = 0
        self.negative_hits = 0
        self.stale_served = 0
        self.coalesced = 0
        self.refreshes = 0
        self.backend_calls = 0
        self.retries = 0
        self.errors = 0

    def snapshot(self, **owned_elsewhere: int) -> StoreStats:
        """An immutable copy, with the counters other collaborators own."""
        mine = {f.name: getattr(self, f.name) for f in fields(StoreStats) if f.name in self.__slots__}
        return StoreStats(**mine, **owned_elsewhere)
