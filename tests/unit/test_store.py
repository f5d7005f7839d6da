"""SecretStore: validation before any call, error normalisation, audit events, closing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from helium_secrets import AuditEvent, RetryPolicy, SecretStore, SecretValue
from helium_secrets.backends._base import Classified
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import (
    ErrorCode,
    InvalidArgumentError,
    InvalidNameError,
    PermissionDeniedError,
    SecretNotFoundError,
    StoreClosedError,
    TooLargeError,
    UnavailableError,
    UnknownError,
)


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend(max_value_bytes=100)


@pytest.fixture
def store(backend: MemoryBackend) -> Iterator[SecretStore]:
    with SecretStore(backend, retry=RetryPolicy.never()) as store:
        yield store


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "empty"),
        ("/a", "start or end"),
        ("a/", "start or end"),
        ("a//b", "empty segment"),
        ("a/./b", "not allowed"),
        ("a/../b", "not allowed"),
        ("a b", "whitespace"),
        ("a\nb", "whitespace"),
        ("a" * 2000, "longer"),
        ("a#b", "backend's rule"),
    ],
)
def test_invalid_names_say_why_before_any_call(
    store: SecretStore, backend: MemoryBackend, name: str, problem: str
) -> None:
    with pytest.raises(InvalidNameError, match=problem):
        store.get(name)
    with pytest.raises(InvalidNameError):
        store.put(name, "v")
    with pytest.raises(InvalidNameError):
        store.delete(name)
    assert sum(backend.calls.values()) == 0


def test_non_string_name(store: SecretStore) -> None:
    with pytest.raises(InvalidNameError, match="not int"):
        store.get(42)  # type: ignore[arg-type]


def test_value_checks(store: SecretStore, backend: MemoryBackend) -> None:
    with pytest.raises(InvalidArgumentError, match="str or bytes"):
        store.put("a", 42)  # type: ignore[arg-type]
    with pytest.raises(TooLargeError, match="101 bytes"):
        store.put("a", b"x" * 101)
    with pytest.raises(InvalidArgumentError, match="metadata"):
        store.put("a", "v", metadata={"k": 1})  # type: ignore[dict-item]
    assert sum(backend.calls.values()) == 0
    assert store.put("a", SecretValue(b"\x00")).value.reveal_bytes() == b"\x00"


def test_sdk_errors_are_classified_once_and_chained(
    store: SecretStore, backend: MemoryBackend
) -> None:
    backend.write_external("a", "v")
    backend.fail_next(1, Classified(ErrorCode.PERMISSION_DENIED, "AccessDenied"))
    with pytest.raises(PermissionDeniedError) as info:
        store.get("a")
    error = info.value
    assert (error.backend, error.name, error.message) == ("memory", "a", "AccessDenied")
    assert type(error.__cause__).__name__ == "InjectedFault"


def test_unclassified_errors_become_unknown(store: SecretStore, backend: MemoryBackend,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("kaput")

    monkeypatch.setattr(backend, "get", boom)
    with pytest.raises(UnknownError, match="unexpected RuntimeError") as info:
        store.get("a")
    assert isinstance(info.value.__cause__, RuntimeError)


def test_a_service_echoing_the_value_is_scrubbed(
    store: SecretStore, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    def echo(*args: object, **kwargs: object) -> None:
        raise RuntimeError("x")

    monkeypatch.setattr(backend, "put", echo)
    monkeypatch.setattr(
        backend, "classify", lambda exc: Classified(ErrorCode.INVALID_ARGUMENT, "bad value topsecret!")
    )
    with pytest.raises(InvalidArgumentError) as info:
        store.put("a", "topsecret!")
    assert "topsecret!" not in str(info.value)


def test_get_json_fields(store: SecretStore) -> None:
    store.put("cfg", json.dumps({"db": {"hosts": ["h1", "h2"], "port": 5432}}))
    assert store.get_json("cfg", "db.port") == 5432
    assert store.get_json("cfg", ["db", "hosts", 0]) == "h1"
    with pytest.raises(InvalidArgumentError, match="'db.user'"):
        store.get_json("cfg", "db.user")
    store.put("plain", "not json")
    with pytest.raises(InvalidArgumentError, match="not valid JSON"):
        store.get_json("plain")


def test_audit_events_for_every_operation(backend: MemoryBackend) -> None:
    events: list[AuditEvent] = []
    with SecretStore(backend, audit=[events.append], retry=RetryPolicy.never()) as store:
        store.put("a", "v")
        store.get("a")
        store.get("a")
        with pytest.raises(SecretNotFoundError):
            store.get("missing")
        list(store.list())
        store.versions("a")
        store.delete("a")
    ops = [(e.operation, e.name, e.outcome, e.cache) for e in events]
    assert ops == [
        ("put", "a", "ok", None),
        ("get", "a", "ok", "miss"),
        ("get", "a", "ok", "hit"),
        ("get", "missing", "error", "miss"),
        ("list", None, "ok", None),
        ("versions", "a", "ok", None),
        ("delete", "a", "ok", None),
    ]
    assert events[0].version == "1" and events[0].attempts == 1
    assert events[3].error_code == "not_found"


def test_a_failing_audit_hook_never_breaks_the_call(backend: MemoryBackend) -> None:
    def broken(event: AuditEvent) -> None:
        raise RuntimeError("hook bug")

    with SecretStore(backend, audit=[broken]) as store:
        assert store.put("a", "v").version == "1"


def test_closed_store_refuses_everything(backend: MemoryBackend) -> None:
    store = SecretStore(backend)
    store.put("a", "v")
    store.get("a")  # cached
    store.close()
    store.close()  # idempotent
    assert store.closed
    for call in (lambda: store.get("a"), lambda: store.put("a", "v"), lambda: store.list(),
                 lambda: store.versions("a"), lambda: store.delete("a"),
                 lambda: store.on_rotation("a", lambda o, n: None)):
        with pytest.raises(StoreClosedError):
            call()
    with pytest.raises(StoreClosedError), store:
        pass


def test_stats_count_backend_calls(store: SecretStore, backend: MemoryBackend) -> None:
    store.put("a", "v")
    store.get("a")
    store.get("a")
    stats = store.stats()
    assert stats.backend_calls == 2 and stats.hits == 1 and stats.misses == 1
    store.refresh("a")
    assert store.stats().backend_calls == 3 and store.stats().refreshes == 1
    assert store.stats().as_dict()["backend_calls"] == 3


def test_stats_read_as_a_mapping(store: SecretStore) -> None:
    store.put("a", "v")
    store.get("a")
    store.get("a")
    stats = store.stats()
    assert stats["hits"] == stats.hits == 1
    assert dict(stats) == stats.as_dict()
    assert {"hits", "misses", "stale_served", "coalesced", "backend_calls", "retries",
            "errors"} <= set(stats)
    with pytest.raises(KeyError):
        stats["nope"]


def test_refresh_raises_instead_of_serving_stale(backend: MemoryBackend) -> None:
    with SecretStore(backend, retry=RetryPolicy.never()) as store:
        store.put("a", "v")
        backend.fail_next(1)
        with pytest.raises(UnavailableError):
            store.refresh("a")
        assert store.get("a").value.reveal() == "v"  # the cached value is still served


def test_backend_extras_go_through_the_call_pipeline() -> None:
    from helium_secrets.backends._base import Classified, extra_operation
    from helium_secrets.backends.memory import InjectedFault
    from helium_secrets.errors import ErrorCode, InvalidNameError, StoreClosedError, ThrottledError

    class Restorable(MemoryBackend):
        restored: list[str] = []

        @extra_operation(writes=True)
        def restore(self, name: str) -> str:
            """Bring a secret back."""
            if name == "throttled":
                raise InjectedFault(Classified(ErrorCode.THROTTLED))
            self.restored.append(name)
            return "done"

    backend = Restorable()
    backend.restored = []
    backend.write_external("a", "v1")
    events: list[AuditEvent] = []
    store = SecretStore(backend, audit=[events.append], retry=RetryPolicy.never())
    assert dir(store.extras) == ["describe", "restore"]  # the fake describes, too
    assert store.get("a").version == "1"
    backend.write_external("a", "v2")
    assert store.extras.restore("a") == "done"
    assert store.get("a").version == "2", "a writing extra drops what the store cached"
    assert [(e.operation, e.name, e.outcome) for e in events if e.operation == "restore"] == [
        ("restore", "a", "ok")]
    with pytest.raises(ThrottledError) as info:
        store.extras.restore("throttled")
    assert (info.value.backend, info.value.name) == ("memory", "throttled")
    assert isinstance(info.value.__cause__, InjectedFault)
    with pytest.raises(InvalidNameError):
        store.extras.restore("../x")
    with pytest.raises(AttributeError, match="has no extra operation 'purge'.*restore"):
        store.extras.purge  # noqa: B018
    store.close()
    with pytest.raises(StoreClosedError):
        store.extras.restore("a")
    assert backend.restored == ["a"]


def test_check_and_set_is_emulated_once_for_backends_without_it() -> None:
    import dataclasses
    from collections.abc import Mapping, Sequence

    from helium_secrets import VersionInfo
    from helium_secrets.errors import ConflictError

    seen: list[tuple[str | None, bool]] = []

    class Unconditional(MemoryBackend):
        def put(self, name: str, value: str | bytes, *, expected_version: str | None = None,
                create_only: bool = False, request_token: str | None = None,
                metadata: Mapping[str, str] | None = None,
                labels: Sequence[str] = ()) -> VersionInfo:
            seen.append((expected_version, create_only))
            return super().put(name, value, request_token=request_token, metadata=metadata,
                               labels=labels)

    backend = Unconditional()
    backend.capabilities = dataclasses.replace(backend.capabilities, check_and_set=False)
    with SecretStore(backend) as store:
        first = store.put("a", "one", create_only=True)
        with pytest.raises(ConflictError, match="already exists"):
            store.put("a", "two", create_only=True)
        store.put("a", "two", expected_version=first.version)
        with pytest.raises(ConflictError, match="current version changed"):
            store.put("a", "three", expected_version=first.version)
        with pytest.raises(ConflictError, match="check-and-set failed: secret not found"):
            store.put("b", "x", expected_version="1")
        assert store.get("a").value.reveal() == "two"
    assert seen == [(None, False), (None, False)], "the backend only ever got plain writes"


def test_previous_makes_no_call_on_a_backend_that_keeps_no_versions() -> None:
    import dataclasses

    backend = MemoryBackend()
    backend.write_external("a", "one")
    backend.write_external("a", "two")
    backend.capabilities = dataclasses.replace(backend.capabilities, versions=False)
    with SecretStore(backend) as store:
        assert store.previous("a") is None
    assert sum(backend.calls.values()) == 0, "no backend call"


def test_a_value_echoed_by_a_service_is_scrubbed_whatever_the_error_path(
    store: SecretStore, backend: MemoryBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = "s3cr3t-echoed-by-the-service"

    def refuse_helium(*args: object, **kwargs: object) -> None:  # a backend's own helium error
        raise InvalidArgumentError(f"the service refused {value} as too weak")

    monkeypatch.setattr(backend, "put", refuse_helium)
    with pytest.raises(InvalidArgumentError) as info:
        store.put("a", value)
    assert value not in str(info.value) and value not in repr(info.value)
    assert "the service refused" in str(info.value), "only the value goes, not the message"

    def refuse_sdk(*args: object, **kwargs: object) -> None:
        raise RuntimeError("x")

    monkeypatch.setattr(backend, "put", refuse_sdk)
    monkeypatch.setattr(backend, "classify",
                        lambda exc: Classified(ErrorCode.INVALID_ARGUMENT, f"bad: {value}"))
    with pytest.raises(InvalidArgumentError) as info:
        store.put("a", value.encode())  # bytes are scrubbed too
    assert value not in str(info.value)
