"""docs/rotation.md, claim by claim, on the fake: listeners, the poller, rotation writes,
staged rotation and the rotating credential."""

from __future__ import annotations

import logging
import re

import pytest

from helium_secrets import (
    PollPolicy,
    Secret,
    SecretStore,
    errors,
)
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import (
    ConflictError,
)
from tests.docs.pages import CANARY


def test_listeners_fire_on_own_writes_refresh_and_poll(store: SecretStore,
                                                      backend: MemoryBackend) -> None:
    seen: list[tuple[str | None, str]] = []

    def listener(old: Secret | None, new: Secret) -> None:
        seen.append((old.version if old else None, new.version))

    store.on_rotation("app/db", listener)  # did not exist yet: old is None
    store.put("app/db", "1")
    assert seen == [(None, "1")]
    backend.write_external("app/db", "2")
    store.refresh("app/db")
    assert seen[-1] == ("1", "2")
    backend.write_external("app/db", "3")
    store.rotation.poll_once()
    assert seen[-1] == ("2", "3")
    assert store.stats().rotations_polled == 1


def test_registering_a_listener_reads_the_secret_once(store: SecretStore,
                                                     backend: MemoryBackend) -> None:
    backend.write_external("a", "v")
    store.on_rotation("a", lambda old, new: None)
    assert backend.calls["get"] + backend.calls["current_version"] == 1


def test_old_is_none_after_a_delete(store: SecretStore) -> None:
    seen: list[tuple[str | None, str]] = []
    store.put("a", "1")
    store.on_rotation("a", lambda old, new: seen.append((old.version if old else None,
                                                         new.value.reveal())))
    store.delete("a")
    store.put("a", "again")
    assert seen == [(None, "again")]


def test_a_failing_callback_does_not_stop_the_others(store: SecretStore,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []

    def broken(old: Secret | None, new: Secret) -> None:
        raise RuntimeError(CANARY)

    store.put("a", "1")
    store.on_rotation("a", broken)
    store.on_rotation("a", lambda old, new: seen.append(new.version))
    with caplog.at_level(logging.DEBUG, logger="helium_secrets.rotation"):
        store.put("a", "2")
    assert seen == ["2"]
    assert store.stats().callback_errors == 1
    assert any(r.name == "helium_secrets.rotation" for r in caplog.records)
    assert "RuntimeError" in caplog.text and CANARY not in caplog.text


def test_the_background_poller_fires_and_stops_on_close(backend: MemoryBackend) -> None:
    import threading

    fired = threading.Event()
    store = SecretStore(backend, poll=PollPolicy(interval=0.05, jitter=0.0))
    backend.write_external("a", "one")
    store.on_rotation("a", lambda old, new: fired.set())
    backend.write_external("a", "two")
    assert fired.wait(60), "the poller noticed the rotation"
    assert store.stats().rotations_polled >= 1
    pollers = [t for t in threading.enumerate() if t.name == "helium-rotation-poller[memory]"]
    assert pollers
    store.close()
    for thread in pollers:
        thread.join(60)
        assert not thread.is_alive()


def test_rotate_and_generators(store: SecretStore) -> None:
    from helium_secrets.generators import PasswordGenerator, TokenGenerator

    first = store.rotate("app/db", PasswordGenerator(length=32, exclude="O0Il1"))
    assert first.version == "1"  # a missing secret is created
    value = first.value.reveal()
    assert len(value) == 32 and not set(value) & set("O0Il1")
    assert store.rotate("app/db", PasswordGenerator()).version == "2"
    token = store.rotate("app/api-token", TokenGenerator(nbytes=32)).value.reveal()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert re.fullmatch(r"[0-9a-f]{64}", TokenGenerator(encoding="hex")())  # type: ignore[arg-type]
    raw = TokenGenerator(nbytes=16, encoding="bytes")()
    assert isinstance(raw, bytes) and len(raw) == 16
    symbols = set(PasswordGenerator(lowercase=False, uppercase=False, digits=False,
                                    length=200)())
    assert symbols <= set("!#%+-.:=?@^_~")
    with pytest.raises(ValueError, match="cannot hold"):
        PasswordGenerator(length=2)  # four classes each required: impossible
    with pytest.raises(ValueError, match="no characters"):
        PasswordGenerator(lowercase=False, uppercase=False, digits=False, symbols="")


def test_two_rotators_never_both_win(backend: MemoryBackend) -> None:
    from helium_secrets.generators import TokenGenerator

    one, two = SecretStore(backend), SecretStore(backend)
    one.put("a", "v")
    two.get("a")
    one.rotate("a", TokenGenerator())
    # `two` saw version 1 when it read; rotate reads the current version id itself, so it wins
    # against version 2 only, never overwriting blindly.
    assert two.rotate("a", TokenGenerator()).version == "3"
    with pytest.raises(ConflictError):
        one.put("a", "x", expected_version="2")
    assert [v.version for v in one.versions("a")] == ["1", "2", "3"]
    one.close()
    two.close()


def test_rotate_staged_promotes_or_rolls_back(store: SecretStore) -> None:
    from helium_secrets.generators import PasswordGenerator

    store.put("app/db", "old")
    seen: list[str] = []
    store.on_rotation("app/db", lambda old, new: seen.append(new.version))

    def reject(pending: Secret) -> bool:
        assert "pending" in pending.labels
        assert store.get("app/db").value.reveal() == "old"  # readers don't see it
        return False

    with pytest.raises(errors.RotationTestFailed):
        store.rotate_staged("app/db", PasswordGenerator(), reject)
    assert store.get("app/db", ttl=0).value.reveal() == "old" and seen == []
    new = store.rotate_staged("app/db", PasswordGenerator(), lambda pending: True)
    assert store.get("app/db", ttl=0).version == new.version != "1"
    assert seen == [new.version]
    previous = store.previous("app/db")
    assert previous is not None and previous.value.reveal() == "old"


def test_rotating_credential_refreshes_once_on_auth_error(store: SecretStore,
                                                         backend: MemoryBackend) -> None:
    from helium_secrets.credentials import RotatingCredential

    store.put("tok", "one")
    backend.write_external("tok", "two")  # rotated, not noticed yet (cached)
    cred = RotatingCredential(store, "tok", is_auth_error=lambda exc: isinstance(exc, PermissionError))

    def call(secret: Secret) -> str:
        if secret.value.reveal() != "two":
            raise PermissionError("refused")
        return "ok"

    assert cred.run(call) == "ok"
    assert [s.value.reveal() for s in cred.accepted()] == ["two", "one"]
    with pytest.raises(KeyError):  # not an auth error: raised as is, no refresh
        cred.run(lambda secret: _missing_key())


def _missing_key() -> str:
    raise KeyError("x")


def test_rotating_credential_without_a_newer_version_raises_the_original(
    store: SecretStore,
) -> None:
    from helium_secrets.credentials import RotatingCredential

    store.put("tok", "one")
    cred = RotatingCredential(store, "tok", is_auth_error=lambda exc: True)
    attempts: list[str] = []

    def refused(secret: Secret) -> str:
        attempts.append(secret.version)
        raise PermissionError("refused")

    with pytest.raises(PermissionError, match="refused"):
        cred.run(refused)
    assert attempts == ["1"]  # no newer version: not retried
    assert [s.version for s in cred.accepted()] == ["1"]  # [current] when there is no previous
