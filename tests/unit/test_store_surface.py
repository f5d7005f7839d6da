"""The store's small surface, exactly: reprs, the errors its checks raise (naming the secret
and the backend), get_json/put_json's arguments, list's audit detail, previous(), extras,
audit hooks and stats without a cache."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from helium_secrets import AuditEvent, CachePolicy, SecretStore, open_store
from helium_secrets.backends._base import extra_operation
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import (
    ConflictError,
    InvalidArgumentError,
    ReadOnlyError,
    SecretNotFoundError,
    TooLargeError,
    UnsupportedError,
)
from helium_secrets.lifecycle import AuditPolicy, Lifecycle
from tests.backends.reduced import PLAIN_SHAPED, ReducedMemoryBackend


def test_the_store_says_whether_it_is_open() -> None:
    store = SecretStore(MemoryBackend())
    assert repr(store) == "<SecretStore backend='memory' open>"
    assert store.closed is False
    store.close()
    assert repr(store) == "<SecretStore backend='memory' closed>"
    assert store.closed is True


def test_the_store_shows_the_cache_policy_it_was_given() -> None:
    policy = CachePolicy(ttl=5)
    with SecretStore(MemoryBackend(), cache=policy) as cached:
        assert cached.cache_policy is policy
    with SecretStore(MemoryBackend(), cache=None) as uncached:
        assert uncached.cache_policy is None


@pytest.mark.parametrize("write", ["check_writable", "put", "delete", "set_label", "rotate",
                                   "rotate_staged", "extra"])
def test_a_read_only_backend_refuses_writes_naming_the_secret(write: str) -> None:
    backend = WithExtras(read_only=True)
    with SecretStore(backend) as store:
        calls: dict[str, Callable[[], object]] = {
            "check_writable": lambda: store.check_writable("app/db"),
            "put": lambda: store.put("app/db", "x"),
            "delete": lambda: store.delete("app/db"),
            "set_label": lambda: store.set_label("app/db", "blue", "1"),
            "rotate": lambda: store.rotate("app/db", lambda: "x"),
            "rotate_staged": lambda: store.rotate_staged("app/db", lambda: "x", lambda p: True),
            "extra": lambda: store.extras.restore("app/db"),
        }
        with pytest.raises(ReadOnlyError) as info:
            calls[write]()
        assert (info.value.backend, info.value.name) == ("memory", "app/db")
        assert sum(backend.calls.values()) == 0


@pytest.mark.parametrize(("options", "message"), [
    ({"expected_version": 3}, "expected_version must be a string, not int"),
    ({"create_only": "yes"}, "create_only must be True or False, not str"),
    ({"create_only": True, "expected_version": "1"},
     "give expected_version or create_only, not both"),
], ids=["expected_version", "create_only", "both"])
def test_put_names_the_argument_it_refuses(options: dict[str, Any], message: str) -> None:
    with SecretStore(MemoryBackend()) as store, pytest.raises(InvalidArgumentError) as info:
        store.put("app/db", "x", **options)
    assert (info.value.message, info.value.name) == (message, "app/db")


def test_put_returns_the_metadata_it_wrote() -> None:
    with SecretStore(MemoryBackend()) as store:
        written = store.put("app/db", "x", metadata={"owner": "team-a"})
    assert dict(written.metadata) == {"owner": "team-a"}


def test_rotations_check_their_arguments_naming_the_secret() -> None:
    with SecretStore(MemoryBackend(max_value_bytes=4)) as store:
        calls: tuple[Callable[[], object], ...] = (
            lambda: store.rotate("app/db", lambda: "too long"),
            lambda: store.rotate_staged("app/db", lambda: "too long", lambda p: True))
        for call in calls:
            with pytest.raises(TooLargeError) as too_large:
                call()
            assert too_large.value.name == "app/db"
        with pytest.raises(InvalidArgumentError) as bad:
            store.rotate("app/db", lambda: "x", metadata={"k": 1})  # type: ignore[dict-item]
        assert bad.value.name == "app/db"
    with SecretStore(ReducedMemoryBackend(**PLAIN_SHAPED)) as store, \
            pytest.raises(UnsupportedError) as unsupported:
        store.rotate_staged("app/db", lambda: "x", lambda p: True)
    assert (unsupported.value.backend, unsupported.value.name) == ("memory", "app/db")


def test_set_label_checks_the_version_it_is_given() -> None:
    with SecretStore(MemoryBackend()) as store:
        store.put("app/db", "one")
        with pytest.raises(InvalidArgumentError, match="version"):
            store.set_label("app/db", "blue", 1)  # type: ignore[arg-type]


def test_flags_are_named_when_they_are_not_booleans() -> None:
    with SecretStore(MemoryBackend()) as store:
        store.put("app/db", "one")
        with pytest.raises(InvalidArgumentError, match="^purge must be True or False, not str"):
            store.delete("app/db", purge="yes")  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError,
                           match="^ignore_missing must be True or False, not str"):
            store.get_many(["app/db"], ignore_missing="yes")  # type: ignore[arg-type]
        store.delete("app/db")  # purge is False unless asked
    backend = RecordingPurge()
    with SecretStore(backend) as store:
        store.put("app/db", "one")
        store.delete("app/db")
    assert backend.purges == [False]


class RecordingPurge(MemoryBackend):
    def __init__(self) -> None:
        super().__init__()
        self.purges: list[bool] = []

    def delete(self, name: str, *, purge: bool = False) -> None:
        self.purges.append(purge)
        super().delete(name, purge=purge)


def test_get_json_reads_the_version_or_label_asked() -> None:
    with SecretStore(MemoryBackend()) as store:
        first = store.put_json("app/db", {"n": 1}, labels=["blue"])
        store.put_json("app/db", {"n": 2})
        assert store.get_json("app/db", "n") == 2
        assert store.get_json("app/db", "n", version=first.version) == 1
        assert store.get_json("app/db", label="blue") == {"n": 1}
        store.put("app/text", "not json")
        with pytest.raises(InvalidArgumentError) as info:
            store.get_json("app/text")
        assert (info.value.backend, info.value.name) == ("memory", "app/text")


def test_put_json_takes_puts_options_and_names_a_bad_document() -> None:
    with SecretStore(MemoryBackend()) as store:
        first = store.put_json("app/db", {"n": 1})
        store.put_json("app/db", {"n": 2})
        with pytest.raises(ConflictError):
            store.put_json("app/db", {"n": 3}, expected_version=first.version)
        with pytest.raises(InvalidArgumentError) as info:
            store.put_json("app/db", {"k": {1}})
        assert (info.value.backend, info.value.name) == ("memory", "app/db")


def _nested(depth: int) -> list[object]:
    outer: list[object] = []
    inner = outer
    for _ in range(depth):
        inner.append([])
        inner = inner[0]  # type: ignore[assignment]
    return outer


def _cyclic() -> dict[str, object]:
    document: dict[str, object] = {"user": "app"}
    document["self"] = document
    return document


@pytest.mark.parametrize(("document", "named"), [
    ({"ratio": float("nan")}, "NaN or infinity"),
    ([float("inf")], "NaN or infinity"),
    (_cyclic(), "a cycle"),
    (_nested(100_000), "nesting deeper than Python's recursion limit"),
    ({(1, 2): "pair"}, "a value JSON cannot hold (keys must be str)"),
    ({"when": datetime(2026, 1, 1)}, "a datetime"),
], ids=["nan", "infinity", "cycle", "deep", "tuple-key", "datetime"])
def test_put_json_names_what_is_not_json_and_writes_nothing(document: object,
                                                           named: str) -> None:
    with SecretStore(MemoryBackend()) as store:
        with pytest.raises(InvalidArgumentError) as info:
            store.put_json("app/db", document)
        assert info.value.message == (
            "put_json takes JSON (dicts, lists, str, int, float, bool, None), not a document "
            f"with {named}")
        assert store.stats().backend_calls == 0
        assert list(store.list()) == []


def test_put_json_keeps_text_beyond_ascii_as_it_is() -> None:
    """The stored text is UTF-8 JSON, not ``\\u`` escapes: what other readers of the secret see,
    and what counts against the service's size limit (an escape is 6 bytes, "é" is 2)."""
    with SecretStore(MemoryBackend()) as store:
        store.put_json("app/db", {"user": "zoë", "note": "☕"})
        assert store.get("app/db").value.reveal() == '{"note":"☕","user":"zoë"}'
        assert store.get_json("app/db") == {"user": "zoë", "note": "☕"}


def test_list_is_audited_with_its_prefix() -> None:
    events: list[AuditEvent] = []
    with SecretStore(MemoryBackend(), audit=(events.append,)) as store:
        assert list(store.list("app/")) == []
    assert [(e.operation, e.name, e.detail) for e in events] == [("list", None, "prefix='app/'")]


def test_removed_audit_hooks_are_not_called() -> None:
    events: list[AuditEvent] = []
    with SecretStore(MemoryBackend()) as store:
        store.add_audit_hook(events.append)
        store.put("app/db", "one")
        store.remove_audit_hook(events.append)
        store.put("app/db", "two")
    assert [e.operation for e in events] == ["put"]


def test_stats_without_a_cache_count_no_evictions() -> None:
    with SecretStore(MemoryBackend(), cache=None) as store:
        store.put("app/db", "one")
        assert store.stats().evictions == 0
        assert store.stats().cached == 0


class Recreated(MemoryBackend):
    """Deleted and created again between the current version's probe and the listing."""

    def list_versions(self, name: str) -> Any:
        with self._lock:
            del self._secrets[name]
        self.write_external(name, "again")
        return super().list_versions(name)

    def current_version(self, name: str) -> Any:
        info = super().current_version(name)
        return info.version  # a bare id: the listing's "1" is not the "2" probed


def test_previous_of_a_secret_recreated_meanwhile_is_none() -> None:
    backend = Recreated()
    backend.write_external("app/db", "one")
    backend.write_external("app/db", "two")
    with SecretStore(backend) as store:
        assert store.previous("app/db") is None


# -- extras and describe -------------------------------------------------------------------


class WithExtras(MemoryBackend):
    def __init__(self, **capabilities: Any) -> None:
        super().__init__()
        import dataclasses

        self.capabilities = dataclasses.replace(self.capabilities, **capabilities)
        self.restored: list[tuple[str, tuple[object, ...], dict[str, object]]] = []

    @extra_operation(writes=True)
    def restore(self, name: str, *args: object, **kwargs: object) -> str:
        """Bring a deleted secret back."""
        self.restored.append((name, args, kwargs))
        return "restored"


def test_extras_pass_their_arguments_and_document_themselves() -> None:
    backend = WithExtras()
    with SecretStore(backend) as store:
        assert repr(store.extras) == "<extras of the memory backend: describe, restore>"
        assert store.extras.restore("app/db", 1, why="test") == "restored"
        assert backend.restored == [("app/db", (1,), {"why": "test"})]
        assert store.extras.restore.__doc__ == "Bring a deleted secret back."
        with pytest.raises(AttributeError) as info:
            store.extras.purge("app/db")
        assert str(info.value) == ("the memory backend has no extra operation 'purge' "
                                   "(it has: describe, restore)")
    with open_store("env://") as env:
        assert repr(env.extras) == "<extras of the env backend: none>"
        with pytest.raises(AttributeError) as info:
            env.extras.purge("app/db")
        assert str(info.value).endswith("(it has: none)")


def test_describe_on_a_backend_without_it_names_the_secret() -> None:
    with open_store("env://") as store:
        with pytest.raises(UnsupportedError) as info:
            store.describe("app/db")
        assert (info.value.message, info.value.backend, info.value.name) == (
            "the env backend cannot describe a secret's lifecycle", "env", "app/db")
        with pytest.raises(UnsupportedError) as audited:
            store.audit()
        assert (audited.value.backend, audited.value.name) == ("env", None)


class Vanishing(MemoryBackend):
    """The first secret is deleted between the listing and its description."""

    @extra_operation(writes=False)
    def describe(self, name: str) -> Lifecycle:
        if name == "app/a":
            raise SecretNotFoundError("secret not found")
        return super().describe(name)


def test_audit_leaves_out_a_secret_deleted_meanwhile_and_goes_on() -> None:
    backend = Vanishing()
    for name in ("app/a", "app/b", "app/c"):
        backend.write_external(name, "v")
    with SecretStore(backend) as store:
        findings = store.audit("app/", AuditPolicy(max_age=86400))
    assert [f.name for f in findings] == ["app/b", "app/c"]


def test_audit_without_now_uses_the_current_time() -> None:
    old = datetime.now(timezone.utc) - timedelta(days=30)
    backend = MemoryBackend(clock=lambda: old)
    backend.write_external("app/a", "v")
    with SecretStore(backend) as store:
        findings = store.audit("app/", AuditPolicy(max_age=86400))
    assert [f.name for f in findings] == ["app/a"] and findings[0].problems


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="time.tzset is POSIX only")
def test_audit_without_now_uses_utc_whatever_the_machines_time_zone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A fresh secret is not found too old on a machine 9 hours ahead of UTC (local time read
    as UTC would make it 9 hours old)."""
    monkeypatch.setenv("TZ", "Etc/GMT-9")  # POSIX signs: 9 hours east of Greenwich
    time.tzset()
    try:
        backend = MemoryBackend()
        backend.write_external("app/a", "v")
        with SecretStore(backend) as store:
            findings = store.audit("app/", AuditPolicy(max_age=3600))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert [(f.name, f.problems) for f in findings] == [("app/a", ())]
