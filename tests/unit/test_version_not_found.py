""""No such version" or "no such secret": decided once, by the read path (issue 11).

Most services answer a read of a missing version with the same "not found" as a read of a
missing secret. The backends just say "not found"; the store asks the backend's probe once,
only on the version and label path, and tells the two apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from helium_secrets import CachePolicy, PollPolicy, RetryPolicy, SecretStore
from helium_secrets.backends._base import Classified, RawSecret
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import (
    ErrorCode,
    SecretNotFoundError,
    UnavailableError,
    VersionNotFoundError,
)

CANARY = "canary-3f9a-value"


class PlainNotFound(MemoryBackend):
    """The memory fake answering like a remote service: a missing version or label of an
    existing secret is the same plain "not found" as a missing secret."""

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        try:
            return super().get(name, version, label)
        except VersionNotFoundError as exc:
            raise SecretNotFoundError("not found") from exc


@pytest.fixture
def backend() -> PlainNotFound:
    backend = PlainNotFound()
    backend.write_external("app/db", CANARY)
    backend.set_label("app/db", "prod", "1")
    backend.calls.clear()
    return backend


@pytest.fixture
def store(backend: PlainNotFound) -> Iterator[SecretStore]:
    with SecretStore(backend, cache=CachePolicy(ttl=60), poll=PollPolicy(interval=None),
                     retry=RetryPolicy(max_attempts=1)) as store:
        yield store


def test_a_missing_version_of_an_existing_secret_is_version_not_found(
    store: SecretStore, backend: PlainNotFound
) -> None:
    with pytest.raises(VersionNotFoundError) as info:
        store.get("app/db", "99")
    error = info.value
    assert error.message == "no such version"
    assert (error.backend, error.name, error.version) == ("memory", "app/db", "99")
    assert type(error.__cause__) is SecretNotFoundError  # the backend's answer, chained
    assert CANARY not in str(error) and CANARY not in repr(error)
    assert backend.calls == {"get": 1, "current_version": 1}  # exactly one extra call


def test_a_missing_label_of_an_existing_secret_is_version_not_found(
    store: SecretStore, backend: PlainNotFound
) -> None:
    with pytest.raises(VersionNotFoundError, match="no such label") as info:
        store.get("app/db", label="canary")
    assert CANARY not in str(info.value)
    assert backend.calls == {"get": 1, "current_version": 1}


def test_a_version_of_a_missing_secret_is_secret_not_found(
    store: SecretStore, backend: PlainNotFound
) -> None:
    for version, label in (("1", None), (None, "prod")):
        backend.calls.clear()
        with pytest.raises(SecretNotFoundError) as info:
            store.get("app/nope", version, label=label)
        assert type(info.value) is SecretNotFoundError
        assert info.value.name == "app/nope"
        assert backend.calls == {"get": 1, "current_version": 1}


def test_no_probe_off_the_version_path(store: SecretStore, backend: PlainNotFound) -> None:
    with pytest.raises(SecretNotFoundError) as info:
        store.get("app/nope")  # the current version: the answer is already precise
    assert type(info.value) is SecretNotFoundError
    assert store.get("app/db", "1").value.reveal() == CANARY  # found: nothing to decide
    assert store.get("app/db", label="prod").version == "1"
    assert backend.calls == {"get": 3}


def test_a_backend_that_tells_the_version_is_missing_is_believed() -> None:
    backend = MemoryBackend()  # says VersionNotFoundError itself: no probe is needed
    backend.write_external("a", "v")
    backend.calls.clear()
    with (SecretStore(backend, poll=PollPolicy(interval=None)) as store,
          pytest.raises(VersionNotFoundError, match="no such version or label")):
        store.get("a", "99")
    assert backend.calls == {"get": 1}


@pytest.mark.parametrize("probe_says", [
    Classified(ErrorCode.VERSION_NOT_FOUND, "the current version is disabled"),
    Classified(ErrorCode.PERMISSION_DENIED, "may read versions, not probe"),
])
def test_a_secret_the_probe_cannot_read_exists(
    store: SecretStore, backend: PlainNotFound, probe_says: Classified
) -> None:
    backend.fail_next(error=probe_says, operations=["current_version"])
    with pytest.raises(VersionNotFoundError, match="no such version"):
        store.get("app/db", "99")
    assert backend.calls == {"get": 1, "current_version": 1}


def test_a_failing_probe_is_raised_not_guessed(store: SecretStore, backend: PlainNotFound) -> None:
    backend.fail_next(error=UnavailableError, operations=["current_version"])
    with pytest.raises(UnavailableError) as info:
        store.get("app/db", "99")
    assert info.value.name == "app/db"  # not a guess of either answer
    assert backend.calls == {"get": 1, "current_version": 1}


def test_without_a_probe_the_secret_is_read(backend: PlainNotFound) -> None:
    backend.capabilities = dataclasses.replace(backend.capabilities, version_probe=False)
    with SecretStore(backend, poll=PollPolicy(interval=None)) as store:
        with pytest.raises(VersionNotFoundError):
            store.get("app/db", "99")
        assert backend.calls == {"get": 2}
        backend.calls.clear()
        with pytest.raises(SecretNotFoundError) as info:
            store.get("app/nope", "1")
        assert type(info.value) is SecretNotFoundError
        assert backend.calls == {"get": 2}
