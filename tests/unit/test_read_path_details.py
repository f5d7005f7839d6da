"""What the read path tells its user besides the value: the audit events and counters of a batch
and of a stale answer, the probe that drops an outdated cached value, and what a batch learns
about a missing name. Each test here was written for a mutant the older tests let live."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from helium_secrets import AuditEvent, CachePolicy, PollPolicy, RetryPolicy, Secret, SecretStore
from helium_secrets.backends._base import Classified, RawSecret
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import (
    ErrorCode,
    HeliumError,
    PermissionDeniedError,
    SecretNotFoundError,
    StoreClosedError,
    UnavailableError,
)
from tests.unit.clock import TIMEOUT, ManualClock, QueuedExecutor, canary, wait_until
from tests.unit.test_read_path import BatchBackend

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


class FixedTime:
    """A ``created_at`` clock that moves only when told."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class OmittingBatchBackend(BatchBackend):
    """A batch get that leaves a missing name out of its answer (as some services do)."""

    def get_many(self, names: Sequence[str]) -> dict[str, RawSecret | BaseException]:
        return {n: a for n, a in super().get_many(names).items() if isinstance(a, RawSecret)}


class BrokenBatchBackend(BatchBackend):
    def get_many(self, names: Sequence[str]) -> dict[str, RawSecret | BaseException]:
        raise RuntimeError("the batch call broke")


def _store(backend: MemoryBackend, clock: ManualClock) -> SecretStore:
    return SecretStore(backend, clock=clock, cache=CachePolicy(ttl=60, refresh_ahead=0),
                       poll=PollPolicy(interval=None), retry=RetryPolicy.never())


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def batch_store(clock: ManualClock) -> Iterator[tuple[SecretStore, BatchBackend]]:
    backend = BatchBackend(clock)
    for name in ("a", "b"):
        backend.write_external(name, f"{name}-v1")
    with _store(backend, clock) as store:
        yield store, backend


# -- the probe -----------------------------------------------------------------------------


def test_a_probe_that_finds_a_new_version_drops_the_cached_value(clock: ManualClock) -> None:
    # Both versions have the same creation time: only the version id tells them apart.
    backend = MemoryBackend(clock=FixedTime())
    backend.write_external("a", "v1")
    with _store(backend, clock) as store:
        assert store.get("a").value.reveal() == "v1"
        backend.write_external("a", "v2")
        assert store.current_version("a") == "2"
        assert store.get("a").value.reveal() == "v2"


def test_a_probe_of_the_cached_version_keeps_the_cached_value(clock: ManualClock) -> None:
    backend = MemoryBackend(clock=FixedTime())
    backend.write_external("a", "v1")
    with _store(backend, clock) as store:
        store.get("a")
        reads = backend.calls["get"]
        events: list[AuditEvent] = []
        store.add_audit_hook(events.append)
        assert store.current_version("a") == "1"
        assert [(e.operation, e.name, e.outcome) for e in events] == [("probe", "a", "ok")]
        store.get("a")
        assert backend.calls["get"] == reads, "the cached value was dropped for nothing"


def test_a_probe_of_a_secret_created_again_drops_the_cached_value(clock: ManualClock) -> None:
    # Deleted and created again: its ids start again at "1", only the creation time differs.
    created = FixedTime()
    backend = MemoryBackend(clock=created)
    backend.write_external("a", "first")
    with _store(backend, clock) as store:
        store.get("a")
        backend.delete("a", purge=True)
        created.now = T0 + timedelta(hours=1)
        backend.write_external("a", "second")
        assert store.current_version("a") == "1"
        assert store.get("a").value.reveal() == "second"


class BareIdProbe(MemoryBackend):
    """A probe that answers the version id alone (as :class:`Backend` allows), no creation time."""

    def current_version(self, name: str) -> str:  # type: ignore[override]
        return super().current_version(name).version


def test_a_probe_answering_a_bare_version_id_is_compared_by_that_id(clock: ManualClock) -> None:
    backend = BareIdProbe()
    backend.write_external("a", "v1")
    with _store(backend, clock) as store:
        store.get("a")
        assert store.current_version("a") == "1"
        store.get("a")
        assert backend.calls["get"] == 1, "the cached value was dropped for nothing"
        backend.write_external("a", "v2")
        assert store.current_version("a") == "2"
        assert store.get("a").value.reveal() == "v2"


# -- batches -------------------------------------------------------------------------------


def test_a_batch_audits_the_call_and_each_name_it_fetched(
    batch_store: tuple[SecretStore, BatchBackend]
) -> None:
    store, _ = batch_store
    events: list[AuditEvent] = []
    store.add_audit_hook(events.append)
    store.get_many(["a", "b"])
    [call] = [e for e in events if e.operation == "get_many"]
    assert (call.outcome, call.cache, call.detail) == ("ok", "miss", "2 names")
    per_name = sorted((e.name, e.version, e.cache, e.detail, e.error_code, e.attempts,
                       e.latency_s) for e in events if e.operation == "get")
    assert per_name == [("a", "1", "miss", "get_many", None, 0, 0.0),
                        ("b", "1", "miss", "get_many", None, 0, 0.0)]


def test_a_batch_counts_its_misses_on_top_of_earlier_ones(
    batch_store: tuple[SecretStore, BatchBackend], clock: ManualClock
) -> None:
    store, _ = batch_store
    store.get("a")  # one miss
    clock.advance(61)
    store.get_many(["a", "b"])  # two more
    assert store.stats().misses == 3
    assert store.stats().coalesced == 0


def test_a_batch_tells_the_rotation_listeners_what_it_learned(
    batch_store: tuple[SecretStore, BatchBackend], clock: ManualClock
) -> None:
    store, backend = batch_store
    seen: list[tuple[str | None, str]] = []
    read_back: list[str] = []

    def listener(old: Secret | None, new: Secret) -> None:
        seen.append((old.version if old is not None else None, new.version))
        # A listener that reads the name starts a read of its own, never waits on the batch.
        read_back.append(store.refresh("a").value.reveal())

    store.on_rotation("a", listener)
    store.get_many(["a", "b"])  # the baseline
    backend.write_external("a", "a-v2")
    clock.advance(61)
    assert store.get_many(["a", "b"])["a"].value.reveal() == "a-v2"
    assert seen == [("1", "2")]
    assert read_back == ["a-v2"]


def test_a_name_left_out_of_a_batch_answer_is_not_found_and_remembered(
    clock: ManualClock
) -> None:
    backend = OmittingBatchBackend(clock)
    backend.write_external("a", "a-v1")
    with _store(backend, clock) as store:
        with pytest.raises(SecretNotFoundError) as info:
            store.get_many(["a", "gone"])
        assert (info.value.name, info.value.backend) == ("gone", "memory")
        assert info.value.message == "secret not found"
        assert store.get_many(["a", "gone"], ignore_missing=True).keys() == {"a"}
        batches, reads = len(backend.batches), backend.reads["gone"]
        with pytest.raises(SecretNotFoundError) as again:
            store.get("gone")
        assert "secret not found" in str(again.value), "the remembered answer keeps its words"
        assert len(backend.batches) == batches and backend.reads["gone"] == reads
        assert store.stats().negative_hits >= 1


def test_a_batch_call_that_breaks_fails_every_name_it_held(clock: ManualClock) -> None:
    backend = BrokenBatchBackend(clock)
    backend.write_external("a", "a-v1")
    with _store(backend, clock) as store:
        with pytest.raises(HeliumError) as info:
            store.get_many(["a", "b"])
        assert info.value.code is ErrorCode.UNKNOWN
        assert "unexpected RuntimeError" in str(info.value)
        assert info.value.backend == "memory"


def test_a_listener_that_reads_the_name_a_batch_announced_does_not_wait_on_the_batch(
    batch_store: tuple[SecretStore, BatchBackend], clock: ManualClock
) -> None:
    store, backend = batch_store
    reads: list[str] = []
    with ThreadPoolExecutor(1) as pool:

        def listener(old: Secret | None, new: Secret) -> None:
            # The read runs in a thread of its own, so that one that waits on the batch (which
            # answers its callers once the listeners return) is seen, not a deadlock.
            reading = pool.submit(lambda: reads.append(store.refresh("a").value.reveal()))
            wait_until(lambda: reading.done() or store.stats().coalesced > 0,
                       "the listener's read ends or waits on the batch")

        store.on_rotation("a", listener)
        backend.write_external("a", "a-v2")
        clock.advance(61)
        assert store.get_many(["a", "b"])["a"].value.reveal() == "a-v2"
    assert store.stats().coalesced == 0, "the listener's read waited on the batch"
    assert reads == ["a-v2"]


def test_a_batch_in_the_background_answers_and_caches_every_name(clock: ManualClock) -> None:
    executor = QueuedExecutor()
    backend = BatchBackend(clock)
    for name in ("a", "b", "c"):
        backend.write_external(name, f"{name}-v1")
    with SecretStore(backend, clock=clock, cache=CachePolicy(ttl=60, refresh_ahead=0,
                                                             stale_wait=0),
                     poll=PollPolicy(interval=None), executor=executor) as store:
        for name in ("a", "b", "c"):
            store.get(name)  # one by one: only the batch in the background is under test
            backend.write_external(name, f"{name}-v2")
        clock.advance(61)  # expired, within stale_if_error: served stale, fetched behind
        got = store.get_many(["a", "b", "c"])
        assert {n: s.value.reveal() for n, s in got.items()} == {
            "a": "a-v1", "b": "b-v1", "c": "c-v1"}
        assert executor.run_all() == 1
        got = store.get_many(["a", "b", "c"])
        assert {n: s.value.reveal() for n, s in got.items()} == {
            "a": "a-v2", "b": "b-v2", "c": "c-v2"}
        assert len(backend.batches) == 1, "the background batch cached every name"
        assert store.stats().stale_served == 3


class InterruptedBatchBackend(BatchBackend):
    """A batch call interrupted (a KeyboardInterrupt, a gevent timeout) once ``go`` is set."""

    class Interrupt(BaseException):
        pass

    def __init__(self, clock: ManualClock) -> None:
        super().__init__(clock)
        self.entered, self.go = threading.Event(), threading.Event()

    def get_many(self, names: Sequence[str]) -> dict[str, RawSecret | BaseException]:
        self.entered.set()
        assert self.go.wait(TIMEOUT)
        raise self.Interrupt()


def test_a_reader_waiting_on_an_interrupted_batch_reads_the_name_itself(
    clock: ManualClock
) -> None:
    backend = InterruptedBatchBackend(clock)
    backend.write_external("a", "a-v1")
    with _store(backend, clock) as store, ThreadPoolExecutor(2) as pool:
        batch = pool.submit(store.get_many, ["a", "b"])
        assert backend.entered.wait(TIMEOUT)
        single = pool.submit(store.get, "a")
        try:  # the single read waits on the batch (or, a defect caught here, did not wait)
            wait_until(lambda: store.stats().coalesced == 1 or single.done(),
                       "the single read waits on the batch")
            assert store.stats().coalesced == 1, "the single read did not wait on the batch"
        finally:
            backend.go.set()
        with pytest.raises(InterruptedBatchBackend.Interrupt):
            batch.result(TIMEOUT)
        assert single.result(TIMEOUT).value.reveal() == "a-v1"
    assert backend.reads["a"] == 1, "the single read read the name itself"


# -- stale answers -------------------------------------------------------------------------


def test_a_stale_answer_is_audited_with_its_version_and_why(clock: ManualClock) -> None:
    backend = MemoryBackend()
    backend.write_external("a", "a-v1")
    policy = CachePolicy(ttl=60, refresh_ahead=0, stale_if_error=0.5)
    with SecretStore(backend, clock=clock, cache=policy, poll=PollPolicy(interval=None),
                     retry=RetryPolicy.never()) as store:
        events: list[AuditEvent] = []
        store.get("a")
        store.add_audit_hook(events.append)
        clock.advance(60.25)  # expired a quarter second ago: within a stale-if-error of 0.5
        backend.fail_next(1, Classified(ErrorCode.UNAVAILABLE, transient=True))
        secret: Secret = store.get("a")
        assert secret.value.reveal() == "a-v1"
        [stale] = [e for e in events if e.cache == "stale"]
        assert (stale.name, stale.version, stale.detail, stale.outcome, stale.latency_s) == (
            "a", "1", "unavailable", "ok", 0.0)
        assert store.stats().stale_served == 1


def test_a_batch_call_that_fails_transiently_is_retried(clock: ManualClock) -> None:
    backend = BatchBackend(clock)
    backend.write_external("a", "a-v1")
    with SecretStore(backend, clock=clock, cache=CachePolicy(ttl=60, refresh_ahead=0),
                     poll=PollPolicy(interval=None), retry=RetryPolicy(max_attempts=2)) as store:
        backend.fail_next(1, UnavailableError, operations=["get_many"])
        assert store.get_many(["a", "b"], ignore_missing=True).keys() == {"a"}
        assert store.stats().retries == 1


# -- the cache's own answers ---------------------------------------------------------------


def test_hits_negative_hits_and_refreshes_are_counted_and_audited(clock: ManualClock) -> None:
    backend = MemoryBackend()
    backend.write_external("a", "a-v1")
    with _store(backend, clock) as store:
        events: list[AuditEvent] = []
        store.add_audit_hook(events.append)
        with pytest.raises(SecretNotFoundError) as first:
            store.get("gone")
        store.get("a")
        for _ in range(2):
            store.get_many(["a"])  # through the read path's lookup (get has a faster one)
            with pytest.raises(SecretNotFoundError) as remembered:
                store.get("gone")
            assert remembered.value.message.startswith(first.value.message)
            assert remembered.value.backend == "memory"
        store.refresh("a")
        store.refresh("a")
        stats = store.stats()
        assert (stats.hits, stats.negative_hits, stats.refreshes) == (2, 2, 2)
        cached = [(e.name, e.cache, e.outcome, e.latency_s, e.attempts) for e in events
                  if e.cache in ("hit", "negative")]
        assert cached == [("a", "hit", "ok", 0.0, 0), ("gone", "negative", "error", 0.0, 0)] * 2


def test_a_batch_after_the_stores_own_writes_is_cached(
    batch_store: tuple[SecretStore, BatchBackend]
) -> None:
    # Writes that ended before the batch began do not fence its answer off the cache.
    store, backend = batch_store
    store.put("a", "a-v2")
    store.put("a", "a-v3")
    assert store.get_many(["a"])["a"].value.reveal() == "a-v3"
    assert store.get_many(["a"])["a"].value.reveal() == "a-v3"
    assert len(backend.batches) == 1, "the batch's answer was not cached"


def test_a_batch_without_a_cache_is_audited_as_no_cache_call(clock: ManualClock) -> None:
    backend = BatchBackend(clock)
    backend.write_external("a", "a-v1")
    with SecretStore(backend, clock=clock, cache=None, poll=PollPolicy(interval=None)) as store:
        events: list[AuditEvent] = []
        store.add_audit_hook(events.append)
        assert store.get_many(["a"])["a"].value.reveal() == "a-v1"
        assert store.get_many(["a"])["a"].value.reveal() == "a-v1"
        assert len(backend.batches) == 2
        assert {e.cache for e in events if e.operation == "get_many"} == {None}


class WordyBackend(MemoryBackend):
    """A backend whose "not found" has words of its own."""

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        if name == "gone":
            raise SecretNotFoundError("no such secret in this vault")
        return super().get(name, version, label)


def test_a_remembered_miss_repeats_the_backends_own_words(clock: ManualClock) -> None:
    with _store(WordyBackend(), clock) as store:
        for _ in range(2):
            with pytest.raises(SecretNotFoundError) as info:
                store.get("gone")
            assert info.value.message.startswith("no such secret in this vault")
        assert store.stats().negative_hits == 1


class HeldBackend(MemoryBackend):
    """A fake whose reads made from the thread named ``held`` wait, answer in hand, until
    released: an answer that arrives after a later call's."""

    def __init__(self) -> None:
        super().__init__()
        import threading

        self.answered = threading.Event()
        self.release = threading.Event()

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        import threading

        raw = super().get(name, version, label)
        if threading.current_thread().name == "held":
            self.answered.set()
            assert self.release.wait(10)
        return raw


def test_an_answer_that_cannot_be_ordered_asks_for_a_confirming_read() -> None:
    """A read that overlaps a later call and answers another version cannot say which is
    newer: the store reads the name again, and announces what is current then."""
    import threading

    backend = HeldBackend()
    backend.write_external("app/db", "v1")
    seen: list[tuple[str | None, str]] = []
    with SecretStore(backend, poll=PollPolicy(interval=None)) as store:
        store.on_rotation("app/db", lambda old, new: seen.append(
            (old.value.reveal() if old else None, new.value.reveal())))
        backend.write_external("app/db", "v2")
        held = threading.Thread(target=store.refresh, args=("app/db",), name="held")
        held.start()
        assert backend.answered.wait(10)  # the held read has v2 in hand
        store.put("app/db", "v3")  # began after the held read, answered first: announced
        assert seen == [("v1", "v3")]
        backend.write_external("app/db", "v4")
        reads = backend.calls["get"]
        backend.release.set()
        held.join(10)
        # v2 is never announced (it may be older than v3); the confirming read finds v4.
        for _ in range(1000):
            if len(seen) == 2:
                break
            threading.Event().wait(0.01)
        assert seen == [("v1", "v3"), ("v3", "v4")]
        assert backend.calls["get"] == reads + 1


class OverlappingBackend(MemoryBackend):
    """A fake whose next read, its answer in hand, lets ``during()`` run before it answers:
    a call that begins and ends while the read is on its way back."""

    def __init__(self) -> None:
        super().__init__()
        self.during: Callable[[], object] | None = None

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        raw = super().get(name, version, label)
        during, self.during = self.during, None
        if during is not None:
            during()
        return raw


def _unordered(retry: RetryPolicy) -> tuple[SecretStore, OverlappingBackend, QueuedExecutor,
                                              list[tuple[str | None, str]]]:
    """A store whose read of ``app/db`` answered a version it cannot order against its own
    write that overlapped it (as in the test above, in one thread): the confirming read is
    queued, not run."""
    backend = OverlappingBackend()
    executor = QueuedExecutor()
    backend.write_external("app/db", "v1")
    store = SecretStore(backend, clock=ManualClock(), poll=PollPolicy(interval=None),
                        retry=retry, executor=executor)
    seen: list[tuple[str | None, str]] = []
    store.on_rotation("app/db", lambda old, new: seen.append(
        (old.value.reveal() if old else None, new.value.reveal())))
    backend.write_external("app/db", "v2")
    backend.during = lambda: store.put("app/db", "v3")  # begins after the read, ends before
    assert store.refresh("app/db").value.reveal() == "v2"
    assert seen == [("v1", "v3")]
    assert len(executor.queued) == 1, "a confirming read is asked for"
    return store, backend, executor, seen


def test_a_confirming_read_is_retried_by_the_stores_retry_policy() -> None:
    store, backend, executor, seen = _unordered(RetryPolicy(max_attempts=2))
    with store:
        backend.write_external("app/db", "v4")
        backend.fail_next(1, UnavailableError, operations=["get"])
        assert executor.run_all() == 1
        assert store.stats().retries == 1
        assert seen == [("v1", "v3"), ("v3", "v4")]


def test_a_failed_confirming_read_is_logged_by_name_and_error_type_only(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store, backend, executor, seen = _unordered(RetryPolicy.never())
    with store:
        value = canary("confirm")
        backend.write_external("app/db", value)
        backend.fail_next(1, PermissionDeniedError, operations=["get"])
        caplog.set_level(logging.DEBUG, logger="helium_secrets")
        assert executor.run_all() == 1
        messages = [r.getMessage() for r in caplog.records if r.name == "helium_secrets"]
        assert "confirming read of 'app/db' failed: PermissionDeniedError" in messages
        assert not [m for m in messages if value in m]
        assert seen == [("v1", "v3")], "nothing is announced from a failed read"


# -- the whole run of 2026-12-02: a batch's own "not found", the refresh threads, close --------


class WordyBatchBackend(BatchBackend):
    """A batch backend whose answer for ``gone`` is a "not found" in its own words."""

    def get_many(self, names: Sequence[str]) -> dict[str, RawSecret | BaseException]:
        answers = super().get_many(names)
        if "gone" in answers:
            answers["gone"] = SecretNotFoundError("no such key in the vault")
        return answers


def test_a_batch_remembers_a_not_found_in_the_backends_own_words(clock: ManualClock) -> None:
    backend = WordyBatchBackend(clock)
    backend.write_external("a", "a-v1")
    with _store(backend, clock) as store:
        assert set(store.get_many(["a", "gone"], ignore_missing=True)) == {"a"}
        with pytest.raises(SecretNotFoundError) as info:
            store.get("gone")  # within the negative TTL: the batch's answer, remembered
        assert store.stats().negative_hits == 1
    assert info.value.message == "no such key in the vault (cached answer)"
    assert backend.batches == [["a", "gone"]]


class ThreadNaming(MemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.threads: list[str] = []
        self.fetched = threading.Event()

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        self.threads.append(threading.current_thread().name)
        self.fetched.set()
        return super().get(name, version, label)


def test_a_refresh_ahead_runs_in_a_thread_named_for_the_store(clock: ManualClock) -> None:
    backend = ThreadNaming()
    backend.write_external("a", "a-v1")
    with SecretStore(backend, clock=clock, cache=CachePolicy(ttl=60, refresh_ahead=0.5),
                     poll=PollPolicy(interval=None)) as store:
        store.get("a")
        backend.fetched.clear()
        clock.advance(59)  # in the refresh-ahead window: served, and renewed in the background
        store.get("a")
        assert backend.fetched.wait(TIMEOUT), "no refresh ahead ran"
    assert backend.threads[0] == threading.current_thread().name
    assert backend.threads[1].startswith("helium-refresh[memory]"), backend.threads


def test_close_answers_a_reader_joined_to_a_background_fetch_that_never_ran(
    clock: ManualClock
) -> None:
    """A stale read leaves its fetch queued in the background; a refresh that joins it is
    still waiting when the store closes: it gets the store's closing error, not a hang."""
    backend = MemoryBackend()
    backend.write_external("a", "a-v1")
    queued = QueuedExecutor()
    store = SecretStore(backend, clock=clock, executor=queued, poll=PollPolicy(interval=None),
                        cache=CachePolicy(ttl=60, refresh_ahead=0, stale_wait=0))
    store.get("a")
    clock.advance(61)  # expired: served stale at once, the fetch queued and never run
    assert store.get("a").value.reveal() == "a-v1" and len(queued.queued) == 1
    outcome: list[BaseException | Secret] = []

    def refresh() -> None:
        try:
            outcome.append(store.refresh("a"))
        except BaseException as exc:  # what the test asserts on, whatever it is
            outcome.append(exc)

    joiner = threading.Thread(target=refresh, daemon=True)  # a failed close must not hang exit
    joiner.start()
    wait_until(lambda: store.stats().coalesced == 1, "the refresh joined the queued fetch")
    store.close()  # returns, with the fetch still queued
    joiner.join(TIMEOUT)
    assert not joiner.is_alive()
    (error,) = outcome
    assert type(error) is StoreClosedError
    assert (error.message, error.backend) == ("the store was closed", "memory")
