"""SecretValue and Secret never show the value unless asked."""

from __future__ import annotations

import copy
import hmac
import logging
import pickle
from datetime import datetime, timezone

import pytest

from helium_secrets import Lease, Secret, SecretValue, VersionInfo

CANARY = "canary-values-1b2c3d"


def test_reveal_text_and_bytes() -> None:
    assert SecretValue("päss").reveal() == "päss"
    assert SecretValue("päss").reveal_bytes() == "päss".encode()
    assert SecretValue(b"\x00\xff").reveal_bytes() == b"\x00\xff"
    assert SecretValue(b"abc").reveal() == "abc"
    assert SecretValue(b"abc").is_binary
    assert not SecretValue("abc").is_binary


def test_binary_reveal_as_text_fails_without_showing_bytes() -> None:
    with pytest.raises(ValueError, match="reveal_bytes") as info:
        SecretValue(b"\xffcanary\xfe").reveal()
    assert "canary" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_rejects_other_types() -> None:
    with pytest.raises(TypeError, match="str or bytes"):
        SecretValue(123)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "show",
    [repr, str, lambda v: f"{v}", lambda v: f"{v!r}", lambda v: "%s" % v, lambda v: format(v, "")],
)
def test_redacted_everywhere(show: object) -> None:
    assert callable(show)
    text = show(SecretValue(CANARY))
    assert CANARY not in text
    assert "*" in text


def test_logging_never_shows_value(caplog: pytest.LogCaptureFixture) -> None:
    secret = Secret("a", SecretValue(CANARY), "1")
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("t").info("value %s secret %r", secret.value, secret)
    assert CANARY not in caplog.text


def test_pickle_refused_and_copy_is_same() -> None:
    value = SecretValue(CANARY)
    with pytest.raises(TypeError, match="cannot be pickled") as info:
        pickle.dumps(value)
    assert CANARY not in str(info.value)
    with pytest.raises(TypeError):
        pickle.dumps(Secret("a", value, "1"))
    assert copy.deepcopy(value) is value


def test_immutable() -> None:
    value = SecretValue("x")
    with pytest.raises(AttributeError):
        value._value = "y"


def test_equality_is_by_value_text_or_bytes() -> None:
    assert SecretValue("abc") == SecretValue(b"abc")
    assert SecretValue("abc") != SecretValue("abd")
    assert SecretValue("abc") != "abc"  # never equal to a plain string: no accidental reveal
    assert len({SecretValue("a"), SecretValue("a")}) == 2  # hash is identity, not the value


def test_constant_time_compare_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)  # _values calls hmac.compare_digest
    assert SecretValue("x") == SecretValue("x")
    assert seen == [(b"x", b"x")]


def test_json() -> None:
    assert SecretValue('{"a": 1}').reveal_json() == {"a": 1}
    with pytest.raises(ValueError, match="not valid JSON") as info:
        SecretValue(CANARY).reveal_json()
    assert CANARY not in str(info.value)


def test_secret_repr_and_equality() -> None:
    one = Secret("app/db", SecretValue(CANARY), "3", labels=frozenset({"AWSCURRENT"}))
    assert repr(one) == (
        "Secret(name='app/db', version='3', labels=['AWSCURRENT'], value=SecretValue('**********'))"
    )
    assert one == Secret("app/db", SecretValue(CANARY), "3")
    assert one != Secret("app/db", SecretValue(CANARY), "4")
    assert dict(one.metadata) == {}


def test_version_info() -> None:
    assert VersionInfo("1").enabled
    assert not VersionInfo("1", state="disabled").enabled


def test_a_secret_copies_and_converts_like_any_dataclass() -> None:
    import copy
    import dataclasses

    from helium_secrets import Secret, SecretValue

    secret = Secret(name="a", value=SecretValue("hunter2"), version="1",
                    metadata={"owner": "team"})
    assert copy.deepcopy(secret) == secret
    assert copy.copy(secret) is secret
    as_dict = dataclasses.asdict(secret)
    assert as_dict["metadata"] == {"owner": "team"}
    assert "hunter2" not in repr(as_dict)
    with pytest.raises(TypeError):
        secret.metadata["owner"] = "x"  # type: ignore[index]


@pytest.mark.parametrize("show", [repr, str, lambda v: f"{v}", lambda v: "%s" % (v,)])
def test_no_part_of_the_value_nor_its_length_shows(show: object) -> None:
    assert callable(show)
    value = "Qk9#vZ7!wJm2"  # none of its characters' runs is in the redacted text
    for shown in (show(SecretValue(value)), show(Secret("a", SecretValue(value), "1"))):
        runs = [value[i:i + 3] for i in range(len(value) - 2)]
        assert not [run for run in runs if run in shown], "part of the value shows"
        assert "Q" not in shown and "Z" not in shown
    assert show(SecretValue(value)) == show(SecretValue(value * 5)) == show(SecretValue(b"\x00"))


def test_messages_name_what_is_wrong() -> None:
    with pytest.raises(TypeError, match="^a secret value is str or bytes, not int$"):
        SecretValue(3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^the secret value is binary and not UTF-8 text; use "
                                         r"reveal_bytes\(\)$"):
        SecretValue(b"\xff").reveal()
    with pytest.raises(ValueError, match="^the secret value is not valid JSON$"):
        SecretValue("{").reveal_json()
    with pytest.raises(TypeError, match=r"^a SecretValue cannot be pickled; reveal\(\) it "
                                        "explicitly if you must$"):
        pickle.dumps(SecretValue("x"))


def test_a_value_is_true_unless_empty() -> None:
    assert SecretValue("x") and SecretValue(b"\x00")
    assert not SecretValue("") and not SecretValue(b"")


def test_a_json_read_of_text_that_is_not_json_names_the_secret_not_the_value() -> None:
    from helium_secrets._values import json_field
    from helium_secrets.errors import InvalidArgumentError

    with pytest.raises(InvalidArgumentError) as info:
        json_field(Secret("app/db", SecretValue(CANARY), "1"), None, backend="memory")
    assert str(info.value) == "the secret value is not valid JSON (backend=memory, name='app/db')"


def _lease(lease_id: str = "database/creds/app/abc", *,
           expires_at: datetime | None = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc),
           password: str = "canary-Lease-0123") -> Lease:
    return Lease(path="database/creds/app", lease_id=lease_id,
                 credentials={"username": SecretValue("v-app"), "password": SecretValue(password)},
                 duration=3600.0, renewable=True,
                 issued_at=datetime(2026, 1, 1, 11, 0, tzinfo=timezone.utc), expires_at=expires_at)


def test_a_lease_shows_its_path_id_fields_and_end_never_a_credential() -> None:
    lease = _lease()
    assert repr(lease) == str(lease) == (
        "Lease(path='database/creds/app', lease_id='database/creds/app/abc', "
        "fields=['password', 'username'], expires_at='2026-01-01T12:00:00+00:00')")
    assert repr(_lease(expires_at=None)).endswith("expires_at=None)")
    assert "canary-Lease-0123" not in repr(lease) + str(lease) + repr(lease.credentials)


def test_leases_are_equal_by_id_and_end_only() -> None:
    lease = _lease()
    assert lease == _lease(password="another")  # the same grant, however its values print
    assert hash(lease) == hash(_lease(password="another"))
    assert lease != _lease("database/creds/app/other")
    assert lease != _lease(expires_at=datetime(2026, 1, 1, 13, 0, tzinfo=timezone.utc))
    assert lease.__eq__("database/creds/app/abc") is NotImplemented
    assert lease != "database/creds/app/abc"
