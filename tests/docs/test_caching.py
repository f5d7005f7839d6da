"""docs/caching.md, claim by claim, on the fake: the cache, retry, the fail-fast guard and
``stats()``. (The layers' own unit tests are in tests/unit; what they already test exactly is
not repeated here.)"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from helium_secrets import (
    AuditEvent,
    CachePolicy,
    GuardPolicy,
    PollPolicy,
    RetryPolicy,
    Secret,
    SecretStore,
    errors,
)
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import (
    ErrorCode,
    SecretNotFoundError,
    UnavailableError,
)
from helium_secrets.testing import ManualClock
from tests.docs.pages import CANARY


def test_policy_defaults_are_the_documented_ones() -> None:
    assert CachePolicy() == CachePolicy(ttl=300.0, max_entries=1024, refresh_ahead=0.2,
                                        stale_if_error=900.0, negative_ttl=5.0)
    assert RetryPolicy() == RetryPolicy(max_attempts=4, initial_backoff=0.1, max_backoff=5.0,
                                        deadline=30.0, respect_retry_after=True,
                                        max_retry_after=60.0)
    assert RetryPolicy.never().max_attempts == 1
    assert GuardPolicy() == GuardPolicy(threshold=5, cooldown=5.0)
    assert PollPolicy() == PollPolicy(interval=60.0, jitter=0.2, max_backoff=600.0)


@pytest.mark.parametrize("make", [
    lambda: CachePolicy(ttl=-1), lambda: CachePolicy(max_entries=0),
    lambda: CachePolicy(refresh_ahead=1.5), lambda: CachePolicy(stale_if_error=-1),
    lambda: CachePolicy(negative_ttl=-1), lambda: RetryPolicy(max_attempts=0),
    lambda: RetryPolicy(initial_backoff=-1), lambda: RetryPolicy(deadline=-1),
    lambda: GuardPolicy(threshold=-1), lambda: GuardPolicy(cooldown=-1),
    lambda: PollPolicy(interval=0), lambda: PollPolicy(jitter=2),
])
def test_invalid_policy_values_raise_value_error(make: Any) -> None:
    with pytest.raises(ValueError, match="Policy"):
        make()


def test_policies_are_frozen_and_replace_derives() -> None:
    policy = RetryPolicy()
    derived = policy.replace(deadline=2.0)
    assert (derived.deadline, policy.deadline) == (2.0, 30.0)
    with pytest.raises(AttributeError):
        policy.deadline = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="max_attempts"):
        policy.replace(max_attempts=0)


def test_the_caching_page_example_calls(backend: MemoryBackend) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock, cache=CachePolicy(ttl=60, refresh_ahead=0)) as store:
        backend.write_external("app/db", "v1")
        store.get("app/db")
        clock.advance(10)
        store.get("app/db")  # cached for 60 s
        assert backend.calls["get"] == 1
        store.get("app/db", ttl=5)  # accept a cached value at most 5 s old
        assert backend.calls["get"] == 2
        store.refresh("app/db")  # bypass the cache once
        assert backend.calls["get"] == 3
        store.clear_cache()  # forget everything cached
        store.get("app/db")
        assert backend.calls["get"] == 4
    with SecretStore(backend, clock=clock, cache=None) as store:
        backend.fail_next(1, UnavailableError)
        with pytest.raises(UnavailableError):
            store.get("app/db", retry=RetryPolicy.never())  # one attempt, whatever the policy
        assert backend.calls["get"] == 5


def test_a_store_without_cache_reads_the_backend_every_time(backend: MemoryBackend) -> None:
    with SecretStore(backend, cache=None) as store:
        store.put("a", "v")
        store.get("a")
        store.get("a")
        assert backend.calls["get"] == 2


def test_versioned_and_labelled_reads_are_not_cached(store: SecretStore,
                                                    backend: MemoryBackend) -> None:
    store.put("a", "v", labels=["blue"])
    for _ in range(2):
        store.get("a", version="1")
        store.get("a", label="blue")
    assert backend.calls["get"] == 4


def test_per_call_ttl_rules(backend: MemoryBackend) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock, cache=CachePolicy(ttl=60, refresh_ahead=0)) as store:
        backend.write_external("a", "v")
        store.get("a", ttl=5)  # fetched by a call with ttl=5: cached for 5 s, not 60
        clock.advance(6)
        store.get("a")
        assert backend.calls["get"] == 2
        clock.advance(61)  # expired under the store's TTL
        store.get("a", ttl=1000)  # a longer per-call ttl does not extend an expired entry
        assert backend.calls["get"] == 3
        store.get("a", ttl=0)  # ttl=0 asks for a fetch
        assert backend.calls["get"] == 4


def test_a_negative_per_call_ttl_is_refused(store: SecretStore) -> None:
    store.put("a", "v")
    with pytest.raises(ValueError, match="ttl"):
        store.get("a", ttl=-1)


def test_a_per_call_ttl_that_finds_an_entry_too_old_can_serve_it_stale(
    backend: MemoryBackend,
) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock, retry=RetryPolicy.never()) as store:
        store.put("a", "v")
        store.get("a")
        backend.fail_next(1, UnavailableError)
        assert store.get("a", ttl=0).value.reveal() == "v"
        assert store.stats().stale_served == 1
        backend.fail_next(1, UnavailableError)
        with pytest.raises(UnavailableError):
            store.refresh("a")  # the backend's answer or its error
    with SecretStore(backend, clock=clock, retry=RetryPolicy.never(),
                     cache=CachePolicy(stale_if_error=0)) as store:
        store.get("a")
        backend.fail_next(1, UnavailableError)
        with pytest.raises(UnavailableError):
            store.get("a", ttl=0)  # stale_if_error=0 never serves stale


def test_refresh_ahead_serves_at_once_and_refreshes_in_the_background(
    backend: MemoryBackend,
) -> None:
    clock = ManualClock()
    seen: list[str] = []
    store = SecretStore(backend, clock=clock, cache=CachePolicy(ttl=100, refresh_ahead=0.2))
    backend.write_external("a", "one")
    store.get("a")
    store.on_rotation("a", lambda old, new: seen.append(new.value.reveal()))
    backend.write_external("a", "two")
    # Past its first refresh moment (a value fetched cold draws it in [0, 90]), not expired:
    # served at once, refreshed in the background.
    clock.advance(91)
    assert store.get("a").value.reveal() == "one"
    store.close()  # waits for the refresh in progress
    assert backend.calls["get"] == 2
    assert store.stats().refreshes == 1
    assert store.stats().hits == 2  # on_rotation read it once (a hit), then one read
    assert seen == ["two"]  # listeners are told of the new version


def test_a_failed_background_refresh_logs_its_type_only(
    backend: MemoryBackend, caplog: pytest.LogCaptureFixture
) -> None:
    from helium_secrets.backends._base import Classified

    clock = ManualClock()
    store = SecretStore(backend, clock=clock, retry=RetryPolicy.never(),
                        cache=CachePolicy(ttl=100, refresh_ahead=0.2))
    backend.write_external("a", "v")
    store.get("a")
    clock.advance(91)
    backend.fail_next(1, Classified(ErrorCode.UNAVAILABLE, message=CANARY))
    with caplog.at_level(logging.DEBUG, logger="helium_secrets"):
        assert store.get("a").value.reveal() == "v"  # served at once
        store.close()  # waits for the refresh in progress
    assert backend.calls["get"] == 2
    assert "UnavailableError" in caplog.text
    assert CANARY not in caplog.text


def test_stale_if_error_serves_then_refresh_raises(backend: MemoryBackend) -> None:
    clock = ManualClock()
    events: list[AuditEvent] = []
    with SecretStore(backend, clock=clock, audit=[events.append],
                     cache=CachePolicy(ttl=10, refresh_ahead=0, stale_if_error=100)) as store:
        backend.write_external("a", "old")
        store.get("a")
        clock.advance(20)
        backend.fail_next(10, UnavailableError)
        assert store.get("a").value.reveal() == "old"
        assert store.stats().stale_served == 1
        assert [(e.outcome, e.cache) for e in events[-2:]] == [("error", "miss"), ("ok", "stale")]
        backend.clear_faults()
        backend.fail_next(10, UnavailableError)
        with pytest.raises(UnavailableError):
            store.refresh("a")  # never falls back to a stale value
        backend.clear_faults()
        clock.advance(200)  # past the stale window
        backend.fail_next(10, UnavailableError)
        with pytest.raises(UnavailableError):
            store.get("a")


def test_negative_caching_as_documented(backend: MemoryBackend) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock) as store:
        for _ in range(3):
            with pytest.raises(SecretNotFoundError) as info:
                store.get("nope")
        assert backend.calls["get"] == 1
        assert store.stats().negative_hits == 2
        assert "secret not found (cached answer)" in str(info.value)
        assert "nope" in str(info.value)  # every error names the secret
        backend.write_external("nope", "now")
        with pytest.raises(SecretNotFoundError):
            store.get("nope")  # created by someone else: visible when the answer expires
        clock.advance(5.0)
        assert store.get("nope").value.reveal() == "now"
        # The store's own put replaces a remembered answer at once.
        with pytest.raises(SecretNotFoundError):
            store.get("other")
        store.put("other", "mine")
        assert store.get("other").value.reveal() == "mine"


def test_own_writes_invalidate_and_delete_drops(store: SecretStore,
                                               backend: MemoryBackend) -> None:
    store.put("a", "v")
    store.get("a")
    store.put("a", "w", metadata={"team": "x"})
    assert store.get("a").value.reveal() == "w"  # the write dropped the cached "v"
    assert dict(store.get("a").metadata) == {"team": "x"}  # read back, as the backend has it
    assert backend.calls["get"] == 2  # one read after each write; then cache hits
    store.delete("a")
    with pytest.raises(SecretNotFoundError):
        store.get("a")


def test_set_label_drops_the_cached_entry(store: SecretStore, backend: MemoryBackend) -> None:
    store.put("a", "v")
    store.get("a")
    store.set_label("a", "blue", "1")
    store.get("a")
    assert backend.calls["get"] == 2  # one read after the put, one after set_label
    assert store.get("a").labels == frozenset({"blue"})


def test_get_many_serves_cached_names_and_caches_what_it_fetches(
    store: SecretStore, backend: MemoryBackend
) -> None:
    backend.write_external("a", "1")
    backend.write_external("b", "2")
    store.get("a")
    assert backend.calls["get"] == 1
    got = store.get_many(["a", "b"])
    assert {n: s.value.reveal() for n, s in got.items()} == {"a": "1", "b": "2"}
    assert backend.calls["get"] == 2  # only "b" was fetched
    store.get("b")
    assert backend.calls["get"] == 2  # and cached


def test_concurrent_misses_make_one_backend_call() -> None:
    import threading

    release = threading.Event()

    class Slow(MemoryBackend):
        def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
            release.wait(60)
            return super().get(name, version, label)

    backend = Slow()
    backend.write_external("a", "v")
    events: list[AuditEvent] = []
    with SecretStore(backend, audit=[events.append]) as store:
        results: list[str] = []
        threads = [threading.Thread(target=lambda: results.append(store.get("a").version))
                   for _ in range(8)]
        for thread in threads:
            thread.start()
        for _ in range(6000):  # until the seven others wait on the first (no timing assertion)
            if store.stats().coalesced == 7:
                break
            threading.Event().wait(0.01)
        release.set()
        for thread in threads:
            thread.join(60)
        assert results == ["1"] * 8
        assert backend.calls["get"] == 1
        assert store.stats().coalesced == 7
        # caching.md / concepts.md list the audit `cache` values; a waiter's is one of them.
        assert {e.cache for e in events} <= {"hit", "miss", "stale", "negative", "coalesced",
                                              None}


class _Gate(MemoryBackend):
    """A fake whose reads wait at a gate, so that other callers can pile up behind one."""

    def __init__(self) -> None:
        import threading

        super().__init__()
        self.gate = threading.Event()

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
        self.gate.wait(60)
        return super().get(name, version, label)


def _until(predicate: Any) -> None:
    import threading

    for _ in range(6000):  # an event to await, polled; no timing assertion
        if predicate():
            return
        threading.Event().wait(0.01)
    raise AssertionError("the condition never held")


def test_refresh_joins_a_read_in_flight() -> None:
    import threading

    backend = _Gate()
    backend.write_external("a", "v")
    with SecretStore(backend) as store:
        reader = threading.Thread(target=lambda: store.get("a"))
        reader.start()
        _until(lambda: store.stats().misses == 1)
        refreshed: list[Secret] = []
        joiner = threading.Thread(target=lambda: refreshed.append(store.refresh("a")))
        joiner.start()
        _until(lambda: store.stats().coalesced == 1)
        backend.gate.set()
        reader.join(60)
        joiner.join(60)
        assert backend.calls["get"] == 1 and refreshed[0].version == "1"


def test_only_transient_errors_are_retried(backend: MemoryBackend) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock, cache=None) as store:
        backend.write_external("a", "v")
        backend.fail_next(3, errors.ThrottledError)
        assert store.get("a").value.reveal() == "v"
        assert store.stats().retries == 3 and len(clock.sleeps) == 3
        backend.fail_next(1, errors.PermissionDeniedError)
        with pytest.raises(errors.PermissionDeniedError):
            store.get("a")
        assert store.stats().retries == 3
        backend.fail_next(4, UnavailableError)
        with pytest.raises(UnavailableError) as info:
            store.get("a")  # max_attempts=4: the last error is raised as it is
        assert info.value.transient is True


def test_throttling_hints_are_respected_up_to_max_retry_after(backend: MemoryBackend) -> None:
    from helium_secrets.backends._base import Classified

    clock = ManualClock()
    with SecretStore(backend, clock=clock, cache=None) as store:
        backend.write_external("a", "v")
        backend.fail_next(1, Classified(ErrorCode.THROTTLED, retry_after=2.5))
        assert store.get("a").value.reveal() == "v"
        assert clock.sleeps and clock.sleeps[0] >= 2.5  # the larger of backoff and hint
        backend.fail_next(1, Classified(ErrorCode.THROTTLED, retry_after=61.0))
        calls = backend.calls["get"]
        with pytest.raises(errors.ThrottledError) as info:
            store.get("a")  # over max_retry_after (60 s): fails at once
        assert backend.calls["get"] == calls + 1
        assert info.value.retry_after == 61.0  # kept for the caller


def test_the_deadline_bounds_the_waits(backend: MemoryBackend) -> None:
    from helium_secrets.backends._base import Classified

    clock = ManualClock()
    policy = RetryPolicy(max_attempts=10, deadline=1.0)
    with SecretStore(backend, clock=clock, cache=None, retry=policy) as store:
        backend.write_external("a", "v")
        backend.fail_next(10, Classified(ErrorCode.THROTTLED, retry_after=0.6))
        with pytest.raises(errors.ThrottledError):
            store.get("a")
        assert backend.calls["get"] == 2  # a second wait of 0.6 s would cross the deadline
        assert sum(clock.sleeps) < 1.0


class _NoTokens(MemoryBackend):
    """The fake without idempotency tokens, like a service that has none."""

    def __init__(self) -> None:
        import dataclasses

        super().__init__()
        self.capabilities = dataclasses.replace(self.capabilities, idempotent_put=False)


def test_a_plain_put_without_tokens_is_never_retried() -> None:
    backend = _NoTokens()
    with SecretStore(backend, clock=ManualClock()) as store:
        backend.fail_next(1, UnavailableError, operations=["put"])
        with pytest.raises(UnavailableError):
            store.put("a", "v")
        assert backend.calls["put"] == 1
        backend.fail_next(1, UnavailableError, operations=["put"])
        assert store.put("a", "v", create_only=True).version == "1"  # conditional: retried
        assert backend.calls["put"] == 3


def test_the_guard_trips_and_refuses_without_a_call(backend: MemoryBackend) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock, cache=None, retry=RetryPolicy.never(),
                     guard=GuardPolicy(threshold=2, cooldown=5.0)) as store:
        backend.write_external("a", "v")
        backend.fail_next(2, UnavailableError)
        for _ in range(2):
            with pytest.raises(UnavailableError):
                store.get("a")
        calls = backend.calls["get"]
        with pytest.raises(UnavailableError) as info:
            store.get("a")
        assert backend.calls["get"] == calls
        assert info.value.transient is True
        assert "paused for" in str(info.value) and "after repeated failures" in str(info.value)
        assert store.stats().guard_trips == 1
        clock.advance(5.0)
        assert store.get("a").value.reveal() == "v"  # the trial call closes it


def test_the_guard_serves_stale_and_fresh_hits_are_unaffected(backend: MemoryBackend) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock, retry=RetryPolicy.never(),
                     cache=CachePolicy(ttl=10, refresh_ahead=0),
                     guard=GuardPolicy(threshold=1, cooldown=60.0)) as store:
        backend.write_external("a", "a-value")
        backend.write_external("b", "b-value")
        store.get("a")
        clock.advance(11)
        store.get("b")  # fresh
        backend.fail_next(1, UnavailableError)
        assert store.get("a").value.reveal() == "a-value"  # failed, served stale; guard trips
        assert store.stats().guard_trips == 1
        calls = sum(backend.calls.values())
        assert store.get("a").value.reveal() == "a-value"  # refused by the guard, stale
        assert store.get("b").value.reveal() == "b-value"  # a fresh hit: not affected
        assert sum(backend.calls.values()) == calls
        assert store.stats().stale_served == 2


def test_one_guard_per_store_shared_by_all_operations(backend: MemoryBackend) -> None:
    with SecretStore(backend, cache=None, retry=RetryPolicy.never(),
                     guard=GuardPolicy(threshold=1, cooldown=60.0)) as store:
        backend.fail_next(1, UnavailableError)
        with pytest.raises(UnavailableError):
            store.get("a")
        calls = sum(backend.calls.values())
        for call in (lambda: list(store.list()), lambda: store.put("a", "v"),
                     lambda: store.versions("a"), lambda: store.current_version("a")):
            with pytest.raises(UnavailableError, match="paused"):
                call()
        assert sum(backend.calls.values()) == calls
    with SecretStore(backend, cache=None) as other:
        other.put("b", "v")  # another store has its own guard


def test_stats_counters_are_the_documented_ones(store: SecretStore) -> None:
    documented = {"hits", "misses", "negative_hits", "stale_served", "coalesced", "refreshes",
                  "backend_calls", "retries", "errors", "evictions", "guard_trips",
                  "rotations_polled", "callback_errors", "cached"}
    stats = store.stats()
    assert set(stats.as_dict()) == documented
    assert set(dict(stats)) == documented
    assert stats["hits"] == stats.hits
