"""The errors the call pipeline hands a caller: their words, the context they name, a value
echoed by the service masked, and a classifier that fails. Each test here was written for a
mutant the older tests let live."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import pytest

from helium_secrets import AuditEvent, GuardPolicy, PollPolicy, RetryPolicy, SecretStore
from helium_secrets.backends._base import Classified, RawSecret
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import (
    ErrorCode,
    PermissionDeniedError,
    SecretNotFoundError,
    StoreClosedError,
    ThrottledError,
    UnavailableError,
    UnknownError,
    VersionNotFoundError,
)
from tests.unit.clock import TIMEOUT, ControlledBackend, ManualClock, canary
from tests.unit.test_read_path import BatchBackend


class BrokenClassifier(MemoryBackend):
    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        raise RuntimeError("the SDK failed")

    def classify(self, exc: BaseException) -> Classified | None:
        raise ValueError("the classifier has a bug")


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def backend() -> MemoryBackend:
    backend = MemoryBackend()
    backend.write_external("a", "a-v1")
    return backend


@pytest.fixture
def store(backend: MemoryBackend, clock: ManualClock) -> Iterator[SecretStore]:
    with SecretStore(backend, clock=clock, cache=None, poll=PollPolicy(interval=None),
                     retry=RetryPolicy.never(), guard=GuardPolicy(threshold=2, cooldown=30)
                     ) as store:
        yield store


def test_an_open_guard_says_for_how_long_and_names_the_secret(
    store: SecretStore, backend: MemoryBackend, clock: ManualClock
) -> None:
    backend.fail_next(2, Classified(ErrorCode.UNAVAILABLE, transient=True))
    for _ in range(2):
        with pytest.raises(UnavailableError):
            store.get("a")
    clock.advance(29.5)  # half a second left: still a pause, not yet a trial
    with pytest.raises(UnavailableError) as info:
        store.get("a")
    assert info.value.message == (
        "calls to the backend are paused for 0.5s after repeated failures")
    assert (info.value.name, info.value.backend) == ("a", "memory")


def test_an_error_without_words_is_named_by_its_code_with_the_version_asked(
    store: SecretStore, backend: MemoryBackend
) -> None:
    backend.fail_next(1, Classified(ErrorCode.PERMISSION_DENIED))
    with pytest.raises(PermissionDeniedError) as info:
        store.get("a", "1")
    assert info.value.message == "permission denied"
    assert (info.value.name, info.value.version) == ("a", "1")


def test_an_error_the_backend_raises_itself_gets_the_name_and_version(
    store: SecretStore
) -> None:
    with pytest.raises(VersionNotFoundError) as info:
        store.get("a", "9")
    assert (info.value.name, info.value.version, info.value.backend) == ("a", "9", "memory")


def test_a_missing_name_in_a_batch_answer_is_named(clock: ManualClock) -> None:
    backend = BatchBackend(clock)
    backend.write_external("a", "a-v1")
    store = SecretStore(backend, clock=clock, cache=None, poll=PollPolicy(interval=None))
    with store, pytest.raises(SecretNotFoundError) as info:
        store.get_many(["a", "nope"])
    assert (info.value.name, info.value.backend) == ("nope", "memory")


@pytest.mark.parametrize("value", ["abcd", b"\xff\xfe\xfd\xfc-abcd"])
def test_a_value_the_service_echoes_is_masked_even_when_short_or_not_utf8(
    store: SecretStore, backend: MemoryBackend, value: str | bytes
) -> None:
    backend.fail_next(1, Classified(ErrorCode.PERMISSION_DENIED, "refused the value abcd"),
                      operations=["put"])
    with pytest.raises(PermissionDeniedError) as info:
        store.put("a", value)
    # A short text value is masked; bytes that are not UTF-8 are decoded leniently (a strict
    # decode would raise from the error path), and are not echoed whole here.
    expected = "refused the value **********" if isinstance(value, str) else (
        "refused the value abcd")
    assert info.value.message == expected


def test_a_classifier_that_fails_leaves_an_unknown_error(clock: ManualClock) -> None:
    store = SecretStore(BrokenClassifier(), clock=clock, cache=None,
                        poll=PollPolicy(interval=None), retry=RetryPolicy.never())
    with store, pytest.raises(UnknownError) as info:
        store.get("a")
    assert info.value.message == "unexpected RuntimeError"
    assert isinstance(info.value.__cause__, RuntimeError)


def test_a_pause_the_service_asked_for_says_so(
    store: SecretStore, backend: MemoryBackend, clock: ManualClock
) -> None:
    backend.fail_next(1, Classified(ErrorCode.THROTTLED, retry_after=5.0))
    with pytest.raises(ThrottledError):
        store.get("a")
    clock.advance(1.0)
    with pytest.raises(UnavailableError) as info:
        store.get("a")
    assert info.value.message == (
        "calls to the backend are paused for 4.0s as the service asked (Retry-After)")
    assert info.value.retry_after == pytest.approx(4.0)


def test_a_call_while_the_trial_call_runs_is_refused_without_a_wait(clock: ManualClock) -> None:
    """After the cool-down one call goes through as the trial; one that comes meanwhile is
    refused, with no Retry-After to offer: the pause ends when the trial answers."""
    backend = ControlledBackend(clock)
    backend.write_external("a", "a-v1")
    store = SecretStore(backend, clock=clock, cache=None, poll=PollPolicy(interval=None),
                        retry=RetryPolicy.never(), guard=GuardPolicy(threshold=1, cooldown=30))
    with store:
        backend.fail_next(1, Classified(ErrorCode.UNAVAILABLE))
        with pytest.raises(UnavailableError):
            store.get("a")
        clock.advance(30)
        hold = backend.hold("a")
        with ThreadPoolExecutor(1) as pool:
            trial = pool.submit(store.get, "a")
            hold.wait_entered()
            with pytest.raises(UnavailableError) as info:
                store.get("b")  # another name: "a" would wait for the trial's answer
            hold.release()
            assert trial.result(TIMEOUT).value.reveal() == "a-v1"
    assert info.value.message == ("calls to the backend are paused while a trial call checks "
                                  "whether it is back after repeated failures")
    assert (info.value.name, info.value.retry_after) == ("b", None)


def test_each_coalesced_caller_gets_the_error_as_the_fetch_raised_it(clock: ManualClock) -> None:
    """The callers that waited on another's fetch each get a copy of its error, with the same
    words, version, transient flag and Retry-After (a retry policy reads the last two)."""
    backend = ControlledBackend(clock)
    backend.write_external("a", "a-v1")
    store = SecretStore(backend, clock=clock, poll=PollPolicy(interval=None),
                        retry=RetryPolicy.never())
    with store, ThreadPoolExecutor(2) as pool:
        hold = backend.hold("a")
        leader = pool.submit(store.get, "a", "1")
        hold.wait_entered()
        follower = pool.submit(store.get, "a", "1")
        deadline = time.monotonic() + TIMEOUT
        while store.stats().coalesced < 1:
            assert time.monotonic() < deadline, "the second reader never joined the first"
            time.sleep(0.001)
        backend.fail_next(1, Classified(ErrorCode.UNAVAILABLE, "the service is restarting",
                                        transient=False, retry_after=7.0))
        hold.release()
        raised = [future.exception(TIMEOUT) for future in (leader, follower)]
    errors = [error for error in raised if isinstance(error, UnavailableError)]
    assert len(errors) == 2 and errors[0] is not errors[1]
    for error in errors:
        assert (error.message, error.name, error.version, error.backend) == (
            "the service is restarting", "a", "1", "memory")
        assert (error.transient, error.retry_after) == (False, 7.0)


# -- the whole run of 2026-12-02: the context of a failure, with and without a call context ---


@contextmanager
def _a_call_context(operation: str, name: str | None) -> Iterator[None]:
    yield


@pytest.fixture(params=["plain", "under a call context"])
def audited(request: pytest.FixtureRequest, backend: MemoryBackend, clock: ManualClock
            ) -> Iterator[tuple[SecretStore, list[AuditEvent]]]:
    """A store with an audit hook; the second time with a call context registered, the
    pipeline's other path."""
    events: list[AuditEvent] = []
    with SecretStore(backend, clock=clock, cache=None, poll=PollPolicy(interval=None),
                     retry=RetryPolicy.never(), audit=[events.append]) as store:
        if request.param != "plain":
            store.add_call_context(_a_call_context)
        yield store, events


def test_a_failed_read_of_a_version_names_it_in_the_error_and_the_audit_event(
    audited: tuple[SecretStore, list[AuditEvent]], backend: MemoryBackend
) -> None:
    store, events = audited
    backend.fail_next(1, Classified(ErrorCode.PERMISSION_DENIED), operations=["get"])
    with pytest.raises(PermissionDeniedError) as info:
        store.get("a", "1")
    assert (info.value.name, info.value.version) == ("a", "1")
    (event,) = events
    assert (event.operation, event.name, event.version, event.outcome) == (
        "get", "a", "1", "error")


def test_a_failed_listing_keeps_its_prefix_in_the_audit_event(
    audited: tuple[SecretStore, list[AuditEvent]], backend: MemoryBackend
) -> None:
    store, events = audited
    backend.fail_next(1, Classified(ErrorCode.PERMISSION_DENIED), operations=["list"])
    with pytest.raises(PermissionDeniedError):
        list(store.list(prefix="app/"))
    (event,) = events
    assert (event.operation, event.detail, event.error_code) == (
        "list", "prefix='app/'", "permission_denied")


def test_a_value_the_service_echoes_is_masked_under_a_call_context_too(
    audited: tuple[SecretStore, list[AuditEvent]], backend: MemoryBackend
) -> None:
    store, _ = audited
    value = canary("echoed")
    backend.fail_next(1, Classified(ErrorCode.PERMISSION_DENIED, f"refused the value {value}"),
                      operations=["put"])
    with pytest.raises(PermissionDeniedError) as info:
        store.put("a", value)
    assert value not in str(info.value)
    assert info.value.message == "refused the value **********"


@pytest.mark.parametrize("fails", [False, True], ids=["ok", "failed"])
def test_an_audit_event_times_the_call_it_reports(
    audited: tuple[SecretStore, list[AuditEvent]], backend: MemoryBackend, fails: bool
) -> None:
    store, events = audited
    if fails:
        backend.fail_next(1, Classified(ErrorCode.PERMISSION_DENIED), operations=["get"])
    started = time.perf_counter()
    try:
        store.get("a")
    except PermissionDeniedError:
        assert fails
    took = time.perf_counter() - started
    (event,) = events
    assert event.outcome == ("error" if fails else "ok")
    assert 0 <= event.latency_s <= took


def test_an_extras_answer_without_a_string_version_is_audited_with_none(
    clock: ManualClock
) -> None:
    class Answering(MemoryBackend):
        def extra_answer(self) -> Any:
            return SimpleNamespace(version=7)  # an extra's own answer: not a portable result

    events: list[AuditEvent] = []
    backend = Answering()
    with SecretStore(backend, clock=clock, cache=None, poll=PollPolicy(interval=None),
                     audit=[events.append]) as store:
        answer = store._pipeline.call("describe", "a", backend.extra_answer,
                                       RetryPolicy.never())
    assert answer.version == 7
    (event,) = events
    assert (event.operation, event.name, event.version) == ("describe", "a", None)


def test_a_closed_store_says_so_and_names_its_backend(store: SecretStore) -> None:
    store.close()
    with pytest.raises(StoreClosedError) as info:
        store.get("a")
    assert info.value.message == "the store is closed"
    assert info.value.backend == "memory"


def test_a_hint_is_not_waited_out_when_the_policy_ignores_it(
    backend: MemoryBackend, clock: ManualClock
) -> None:
    """``respect_retry_after=False``: a hint that trips the guard is no reason to retry
    (waiting it out would be respecting it), so the call ends with the backend's own error
    after one attempt."""
    policy = RetryPolicy(max_attempts=3, initial_backoff=0, respect_retry_after=False)
    with SecretStore(backend, clock=clock, cache=None, poll=PollPolicy(interval=None),
                     retry=policy, guard=GuardPolicy(threshold=1, cooldown=1)) as store:
        backend.fail_next(3, Classified(ErrorCode.THROTTLED, retry_after=5.0))
        before = backend.calls["get"]
        with pytest.raises(ThrottledError):
            store.get("a")
        assert backend.calls["get"] - before == 1
