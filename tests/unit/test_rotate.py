"""Rotation writes: rotate() as check-and-set, staged rotation, previous versions, generators,
and the credential helper that survives a rotation."""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Iterator

import pytest

from helium_secrets import PollPolicy, Secret, SecretStore
from helium_secrets.backends.memory import PENDING, MemoryBackend
from helium_secrets.credentials import RotatingCredential
from helium_secrets.errors import ConflictError, RotationTestFailed, TooLargeError, UnsupportedError
from helium_secrets.generators import SAFE_SYMBOLS, PasswordGenerator, TokenGenerator


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend(max_value_bytes=64)


@pytest.fixture
def store(backend: MemoryBackend) -> Iterator[SecretStore]:
    with SecretStore(backend, poll=PollPolicy(interval=None)) as store:
        yield store


def test_rotate_writes_check_and_set(store: SecretStore, backend: MemoryBackend) -> None:
    store.put("db", "one")
    seen: list[str] = []
    store.on_rotation("db", lambda old, new: seen.append(new.version))
    rotated = store.rotate("db", lambda: "two")
    assert rotated.version == "2" and seen == ["2"]
    assert store.get("db").value.reveal() == "two"


def test_two_rotators_never_both_win(
    store: SecretStore, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.put("db", "one")
    probe = backend.current_version

    def probe_then_lose_the_race(name: str) -> object:
        seen = probe(name)
        backend.write_external(name, "someone-else")  # the other rotator writes meanwhile
        return seen

    monkeypatch.setattr(backend, "current_version", probe_then_lose_the_race)
    with pytest.raises(ConflictError):
        store.rotate("db", lambda: "mine")
    assert store.refresh("db").value.reveal() == "someone-else"


def test_rotate_creates_a_missing_secret(store: SecretStore) -> None:
    assert store.rotate("new", lambda: "first").version == "1"


def test_rotate_checks_the_generated_value_before_any_call(
    store: SecretStore, backend: MemoryBackend
) -> None:
    with pytest.raises(TooLargeError):
        store.rotate("db", lambda: "x" * 65)
    assert sum(backend.calls.values()) == 0


def test_staged_rotation_promotes_after_the_test(store: SecretStore, backend: MemoryBackend) -> None:
    store.put("db", "one")
    seen: list[tuple[str | None, str]] = []
    store.on_rotation("db", lambda old, new: seen.append((old.version if old else None, new.version)))
    during: list[str] = []

    def test(pending: Secret) -> bool:
        # Readers still get the current version while the pending one is tested.
        during.append(store.refresh("db").value.reveal())
        assert PENDING in pending.labels
        return pending.value.reveal() == "two"

    promoted = store.rotate_staged("db", lambda: "two", test)
    assert during == ["one"]
    assert promoted.value.reveal() == "two"
    assert store.get("db").version == promoted.version
    assert seen == [("1", promoted.version)]


@pytest.mark.parametrize("failure", ["returns False", "raises"])
def test_staged_rotation_rolls_back(store: SecretStore, backend: MemoryBackend, failure: str) -> None:
    store.put("db", "one")

    def test(pending: Secret) -> bool:
        if failure == "raises":
            raise ConnectionRefusedError("the database refused the new password")
        return False

    with pytest.raises(RotationTestFailed) as info:
        store.rotate_staged("db", lambda: "two", test)
    assert (failure == "raises") == isinstance(info.value.__cause__, ConnectionRefusedError)
    assert store.refresh("db").value.reveal() == "one"
    states = {v.version: v.state for v in store.versions("db")}
    assert states[info.value.version] == "destroyed"


def test_staged_rotation_conflicts_with_a_concurrent_rotation(
    store: SecretStore, backend: MemoryBackend
) -> None:
    store.put("db", "one")

    def test(pending: Secret) -> bool:
        backend.write_external("db", "someone-else")
        return True

    with pytest.raises(ConflictError):
        store.rotate_staged("db", lambda: "two", test)
    assert store.refresh("db").value.reveal() == "someone-else"


def test_staged_rotation_needs_backend_support(store: SecretStore, backend: MemoryBackend,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend, "capabilities",
                        dataclasses.replace(backend.capabilities, staging=False))
    generated: list[str] = []

    def generate() -> str:
        generated.append("x")
        return "x"

    with SecretStore(backend) as unstaged, pytest.raises(UnsupportedError, match="staged rotation"):
        unstaged.rotate_staged("db", generate, lambda s: True)
    assert generated == [], "refused before the generator runs"


def test_previous_version(store: SecretStore) -> None:
    store.put("k", "one")
    assert store.previous("k") is None
    store.put("k", "two")
    store.put("k", "three")
    previous = store.previous("k")
    assert previous is not None and previous.value.reveal() == "two"


def test_credential_refreshes_once_on_auth_failure(store: SecretStore, backend: MemoryBackend) -> None:
    store.put("token", "old")
    store.get("token")  # cached
    backend.write_external("token", "new")
    used: list[str] = []

    def call_api(secret: Secret) -> str:
        used.append(secret.value.reveal())
        if secret.value.reveal() != "new":
            raise PermissionError("401")
        return "ok"

    credential = RotatingCredential(store, "token",
                                    is_auth_error=lambda e: isinstance(e, PermissionError))
    assert credential.run(call_api) == "ok"
    assert used == ["old", "new"] and credential.refreshes == 1


def test_credential_reraises_when_nothing_was_rotated(store: SecretStore) -> None:
    store.put("token", "only")

    def call_api(secret: Secret) -> str:
        raise PermissionError("401")

    credential = RotatingCredential(store, "token",
                                    is_auth_error=lambda e: isinstance(e, PermissionError))
    with pytest.raises(PermissionError):
        credential.run(call_api)
    with pytest.raises(ValueError, match="other"):
        credential.run(lambda s: (_ for _ in ()).throw(ValueError("other")))  # not auth: as is


def test_credential_accepts_current_and_previous(store: SecretStore) -> None:
    store.put("key", "k1")
    credential = RotatingCredential(store, "key", is_auth_error=lambda e: False)
    assert [s.value.reveal() for s in credential.accepted()] == ["k1"]
    store.put("key", "k2")
    assert [s.value.reveal() for s in credential.accepted()] == ["k2", "k1"]


def test_password_generator_classes_and_exclusions() -> None:
    generate = PasswordGenerator(length=40, exclude="O0Il1")
    for _ in range(50):
        password = generate()
        assert len(password) == 40
        assert not set(password) & set("O0Il1")
        assert set(password) & set(string.ascii_lowercase)
        assert set(password) & set(string.ascii_uppercase)
        assert set(password) & set(string.digits)
        assert set(password) & set(SAFE_SYMBOLS)
    digits_only = PasswordGenerator(length=6, lowercase=False, uppercase=False, symbols="")()
    assert digits_only.isdigit() and len(digits_only) == 6
    with pytest.raises(ValueError, match="no characters"):
        PasswordGenerator(lowercase=False, uppercase=False, digits=False, symbols="")
    with pytest.raises(ValueError, match="cannot hold"):
        PasswordGenerator(length=2)


def test_token_generator() -> None:
    assert len(TokenGenerator(encoding="hex")()) == 64
    assert len(TokenGenerator(nbytes=16, encoding="bytes")()) == 16
    assert TokenGenerator()() != TokenGenerator()()
    with pytest.raises(ValueError, match="16 bytes"):
        TokenGenerator(nbytes=8)
