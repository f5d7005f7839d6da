"""The errors the call pipeline hands a caller: their words, the context they name, a value
echoed by the service masked, and a classifier that fails. Each test here was written for a
mutant the older tests let live."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helium_secrets import GuardPolicy, PollPolicy, RetryPolicy, SecretStore
from helium_secrets.backends._base import Classified, RawSecret
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import (
    ErrorCode,
    PermissionDeniedError,
    SecretNotFoundError,
    UnavailableError,
    UnknownError,
    VersionNotFoundError,
)
from tests.unit.clock import ManualClock
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
