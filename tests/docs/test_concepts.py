"""docs/concepts.md, claim by claim, black-box through the public API on the fake: the store
and its methods, values and versions, names and bad input, errors, audit events, URLs and
registration."""

from __future__ import annotations

import dataclasses
import inspect
import logging
import pickle
import re
from datetime import datetime
from pathlib import Path
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
    SecretValue,
    StoreStats,
    errors,
    logging_hook,
    open_store,
    register_backend,
)
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import (
    ConflictError,
    ErrorCode,
    HeliumError,
    InvalidNameError,
    SecretNotFoundError,
    StoreClosedError,
    UnavailableError,
    VersionNotFoundError,
)
from helium_secrets.testing import ManualClock
from tests.docs.pages import CANARY


def test_open_store_splits_store_options_from_backend_options() -> None:
    clock = ManualClock()
    hook_events: list[AuditEvent] = []
    with open_store("mem://", cache=CachePolicy(ttl=10), retry=RetryPolicy(max_attempts=2),
                    guard=GuardPolicy(threshold=0), poll=PollPolicy(interval=None),
                    audit=[hook_events.append], clock=clock, max_value_bytes=4) as store:
        assert isinstance(store.backend, MemoryBackend)
        with pytest.raises(errors.TooLargeError):  # the backend keyword reached the backend
            store.put("a", "12345")
        store.put("a", "1234")
        store.get("a")
        store.get("a")
        clock.advance(11)  # the store's clock and cache policy
        store.get("a")
        assert store.stats().misses == 2  # the first read after the put, and after expiry
        assert store.stats().hits == 1
        assert hook_events and all(isinstance(e, AuditEvent) for e in hook_events)


def test_open_store_default_is_the_file_store(monkeypatch: pytest.MonkeyPatch,
                                             tmp_path: Path) -> None:
    monkeypatch.delenv("HELIUM_SECRETS_URL", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with open_store() as store:
        assert store.backend.name == "file"


def test_a_closed_store_refuses_every_call(backend: MemoryBackend) -> None:
    store = SecretStore(backend)
    store.put("a", "1")
    store.close()
    calls: list[Any] = [
        lambda: store.get("a"), lambda: store.get_json("a"), lambda: store.get_many(["a"]),
        lambda: store.put("a", "2"), lambda: list(store.list()), lambda: store.versions("a"),
        lambda: store.current_version("a"), lambda: store.delete("a"),
        lambda: store.set_label("a", "x", "1"), lambda: store.refresh("a"),
        lambda: store.on_rotation("a", lambda old, new: None),
    ]
    for call in calls:
        with pytest.raises(StoreClosedError):
            call()


def _params(fn: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


POS = inspect.Parameter.POSITIONAL_OR_KEYWORD


KW = inspect.Parameter.KEYWORD_ONLY


EMPTY = inspect.Parameter.empty


def test_the_method_table_signatures() -> None:
    assert _params(SecretStore.get) == [
        ("self", POS, EMPTY), ("name", POS, EMPTY), ("version", POS, None),
        ("label", KW, None), ("ttl", KW, None), ("retry", KW, None)]
    assert _params(SecretStore.get_json)[:5] == [
        ("self", POS, EMPTY), ("name", POS, EMPTY), ("field", POS, None),
        ("version", KW, None), ("label", KW, None)]
    assert _params(SecretStore.get_many) == [
        ("self", POS, EMPTY), ("names", POS, EMPTY), ("ignore_missing", KW, False)]
    put = dict((n, (k, d)) for n, k, d in _params(SecretStore.put))
    assert put["expected_version"] == (KW, None)
    assert put["create_only"] == (KW, False)
    assert put["metadata"] == (KW, None)
    assert put["labels"][0] == KW and not put["labels"][1]
    assert put["retry"] == (KW, None)
    assert _params(SecretStore.list) == [("self", POS, EMPTY), ("prefix", POS, "")]
    assert _params(SecretStore.delete) == [
        ("self", POS, EMPTY), ("name", POS, EMPTY), ("purge", KW, False)]


def test_store_calls_behave_as_the_table_says(store: SecretStore) -> None:
    store.put("b/two", "2")
    store.put("b/one", '{"hosts": ["h0", "h1"]}')
    store.put("a", "x")
    assert list(store.list()) == ["a", "b/one", "b/two"]  # sorted
    assert list(store.list("b/")) == ["b/one", "b/two"]
    assert store.get_json("b/one", ["hosts", 0]) == "h0"  # the list form of a field
    assert store.get_json("b/one") == {"hosts": ["h0", "h1"]}
    assert store.get_many(["a", "missing"], ignore_missing=True).keys() == {"a"}
    with pytest.raises(SecretNotFoundError):
        store.get_many(["a", "missing"])
    assert store.current_version("a") == "1"
    store.put("a", "y", labels=["blue"])
    store.set_label("a", "green", "1")
    assert store.get("a", label="green").version == "1"
    assert store.get_json("b/one", "hosts.1", label=None) == "h1"
    store.set_label("a", "green", None)  # version=None removes it
    with pytest.raises(VersionNotFoundError):
        store.get("a", label="green")
    with pytest.raises(ConflictError):
        store.put("a", "z", create_only=True)
    meta = store.put("m", "v", metadata={"owner": "team"})
    assert dict(store.get("m").metadata) == {"owner": "team"} == dict(meta.metadata)

    def callback(old: Secret | None, new: Secret) -> None:
        pass

    store.on_rotation("a", callback)
    assert store.remove_rotation_listener("a", callback) is True
    assert store.remove_rotation_listener("a", callback) is False
    store.clear_cache()
    stats = store.stats()
    assert isinstance(stats, StoreStats)
    assert isinstance(stats.as_dict(), dict) and stats.as_dict()["hits"] == stats.hits

    events: list[AuditEvent] = []
    store.add_audit_hook(events.append)
    store.get("a")
    store.remove_audit_hook(events.append)
    store.get("a")
    assert len(events) == 1


def test_close_drops_the_cache_and_releases_the_backend() -> None:
    closed: list[bool] = []

    class Tracked(MemoryBackend):
        def close(self) -> None:
            closed.append(True)
            super().close()

    store = SecretStore(Tracked())
    store.put("a", "v")
    store.close()
    assert closed == [True]
    assert store.stats().cached == 0
    store.close()  # closing twice is harmless


def test_secret_value_redaction_and_reveal() -> None:
    value = SecretValue(CANARY)
    for shown in (repr(value), str(value), f"{value}", f"{value!r}", "%s" % value,
                  format(value, ">80")):
        assert shown == "SecretValue('**********')"
    assert SecretValue(b"caf\xc3\xa9").reveal() == "café"  # bytes decoded as UTF-8
    assert SecretValue("café").reveal_bytes() == b"caf\xc3\xa9"  # text encoded as UTF-8
    assert SecretValue('{"a": [1]}').reveal_json() == {"a": [1]}
    with pytest.raises(TypeError):
        pickle.dumps(value)
    assert value != CANARY  # never equal to a plain string
    assert value == SecretValue(CANARY)
    assert value != SecretValue(CANARY + "x")


def test_secret_value_is_masked_in_logging(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        logging.getLogger("documented").info("value %s %r", SecretValue(CANARY),
                                             SecretValue(CANARY))
    assert CANARY not in caplog.text and "**********" in caplog.text


def test_version_info_fields(store: SecretStore) -> None:
    store.put("a", "1")
    (info,) = store.versions("a")
    assert (info.version, info.labels, info.state) == ("1", frozenset(), "enabled")
    assert isinstance(info.created_at, datetime)


def test_put_takes_text_bytes_or_a_secret_value(store: SecretStore) -> None:
    copied = store.put("b", store.put("a", CANARY).value)
    assert copied.value.reveal() == CANARY
    binary = store.put("c", b"\xff\x00")
    assert binary.value.is_binary and store.get("c").value.reveal_bytes() == b"\xff\x00"


@pytest.mark.parametrize("name", ["", "/a", "a/", "a//b", "a/./b", "..", "a/..", "a b",
                                  "a\tb", "a\nb", "a\x00b", "a\x7fb"])
def test_names_are_rejected_before_any_call(store: SecretStore, backend: MemoryBackend,
                                            name: str) -> None:
    for call in (lambda: store.get(name), lambda: store.put(name, "v"),
                 lambda: store.delete(name), lambda: store.versions(name)):
        with pytest.raises(InvalidNameError) as info:
            call()
        assert info.value.code is ErrorCode.INVALID_ARGUMENT
    assert sum(backend.calls.values()) == 0


def test_bad_values_and_names_fail_before_any_call(store: SecretStore,
                                                   backend: MemoryBackend) -> None:
    bad: list[Any] = [5, None]
    calls: list[Any] = [lambda: store.put("b", bad[0]), lambda: store.put("b", bad[1]),
                        lambda: store.get(bad[0]), lambda: store.put("c", "x" * 70000)]
    for call in calls:
        with pytest.raises(errors.InvalidArgumentError) as info:
            call()
        assert info.value.backend == "memory"
    assert sum(backend.calls.values()) == 0


def test_version_and_label_together_are_refused_before_any_call(
    store: SecretStore, backend: MemoryBackend
) -> None:
    store.put("a", "v", labels=["blue"])
    with pytest.raises(errors.InvalidArgumentError):
        store.get("a", version="1", label="blue")
    assert backend.calls["get"] == 0


def test_expected_version_with_create_only_is_refused_before_any_call(
    store: SecretStore, backend: MemoryBackend
) -> None:
    store.put("a", "v")
    with pytest.raises(errors.InvalidArgumentError):
        store.put("a", "w", expected_version="1", create_only=True)
    assert backend.calls["put"] == 1


ERROR_TABLE = [
    ("SecretNotFoundError", "not_found", False, None),
    ("VersionNotFoundError", "version_not_found", False, "SecretNotFoundError"),
    ("PermissionDeniedError", "permission_denied", False, None),
    ("UnauthenticatedError", "unauthenticated", False, None),
    ("InvalidArgumentError", "invalid_argument", False, None),
    ("InvalidNameError", "invalid_argument", False, None),
    ("TooLargeError", "too_large", False, None),
    ("ConflictError", "conflict", False, None),
    ("ThrottledError", "throttled", True, None),
    ("UnavailableError", "unavailable", True, None),
    ("DeadlineExceededError", "deadline_exceeded", True, "UnavailableError"),
    ("IntegrityError", "integrity", False, None),
    ("UnsupportedError", "unsupported", False, None),
    ("ReadOnlyError", "unsupported", False, "UnsupportedError"),
    ("StoreClosedError", "closed", False, None),
    ("UnknownError", "unknown", False, None),
]


@pytest.mark.parametrize(("cls_name", "code", "transient", "parent"), ERROR_TABLE)
def test_error_table(cls_name: str, code: str, transient: bool, parent: str | None) -> None:
    cls = getattr(errors, cls_name)
    assert issubclass(cls, HeliumError)
    error = cls("problem", backend="memory", name="app/db")
    assert error.code.value == code
    assert error.transient is transient
    assert (error.backend, error.name, error.version, error.retry_after) == (
        "memory", "app/db", None, None)
    if parent is not None:
        assert issubclass(cls, getattr(errors, parent))
    if code == "invalid_argument":
        assert isinstance(error, ValueError)  # "(also a ValueError)"


def test_the_error_codes_are_a_closed_set() -> None:
    assert {c.value for c in ErrorCode} == {row[1] for row in ERROR_TABLE}


def test_errors_name_backend_and_secret_and_keep_the_cause(backend: MemoryBackend) -> None:
    with SecretStore(backend, retry=RetryPolicy.never(), cache=None) as store:
        store.put("app/db", CANARY)
        backend.fail_next(1, UnavailableError)
        with pytest.raises(UnavailableError) as info:
            store.get("app/db")
        text = str(info.value)
        assert "backend=memory" in text and "app/db" in text and CANARY not in text
        assert info.value.transient is True
        assert info.value.__cause__ is not None
        with pytest.raises(VersionNotFoundError) as vinfo:
            store.get("app/db", version="9")
        assert "app/db" in str(vinfo.value) and CANARY not in str(vinfo.value)


def test_errors_carry_the_version_asked_for(store: SecretStore, backend: MemoryBackend) -> None:
    store.put("app/db", "v")
    with pytest.raises(VersionNotFoundError) as info:
        store.get("app/db", version="9")
    assert info.value.version == "9"


def test_audit_events_have_the_documented_fields(caplog: pytest.LogCaptureFixture) -> None:
    events: list[AuditEvent] = []
    hooks = [events.append, logging_hook(logging.getLogger("audit"))]
    with open_store("mem://", audit=hooks) as store, caplog.at_level(logging.INFO, logger="audit"):
        store.put("app/db", CANARY)
        store.get("app/db")
        store.get("app/db")
        with pytest.raises(SecretNotFoundError):
            store.get("nope")
    fields = {"timestamp", "backend", "operation", "name", "version", "outcome", "error_code",
              "latency_s", "cache", "attempts", "detail"}
    assert all(set(e.as_dict()) == fields for e in events)
    put, miss, hit, missing = events
    assert (put.operation, put.outcome, put.name, put.version) == ("put", "ok", "app/db", "1")
    assert (miss.cache, miss.attempts, miss.version) == ("miss", 1, "1")
    assert (hit.cache, hit.attempts) == ("hit", 0)
    assert (missing.outcome, missing.error_code, missing.cache) == ("error", "not_found", "miss")
    assert all(CANARY not in repr(e.as_dict()) for e in events)
    assert caplog.records and CANARY not in caplog.text


def test_a_raising_audit_hook_is_logged_and_ignored(caplog: pytest.LogCaptureFixture) -> None:
    def broken(event: AuditEvent) -> None:
        raise RuntimeError(CANARY)

    with open_store("mem://", audit=[broken]) as store, caplog.at_level(logging.DEBUG):
        store.put("a", "v")
        assert store.get("a").value.reveal() == "v"
    assert caplog.records  # logged
    assert CANARY not in caplog.text


def test_audit_hooks_run_on_the_calling_thread(store: SecretStore) -> None:
    import threading

    threads: list[int] = []
    store.add_audit_hook(lambda event: threads.append(threading.get_ident()))
    store.put("a", "v")
    store.get("a")
    assert threads == [threading.get_ident()] * 2


def test_register_backend_refuses_to_replace_unless_asked() -> None:
    with pytest.raises(ValueError, match="replace=True"):
        register_backend("mem", MemoryBackend)
    register_backend("documented-test", MemoryBackend)
    with pytest.raises(ValueError, match="already registered"):
        register_backend("documented-test", MemoryBackend)
    register_backend("documented-test", MemoryBackend, replace=True)
    with open_store("documented-test://") as store:
        assert isinstance(store.backend, MemoryBackend)


def test_a_missing_extra_names_the_pip_command() -> None:
    register_backend("documented-noextra", "no_such_sdk_for_documented_tests:Backend",
                     extra="documented", replace=True)
    with pytest.raises(ImportError, match=re.escape("pip install 'helium-secrets[documented]'")):
        open_store("documented-noextra://")


def test_transport_table_matches_the_options() -> None:
    """docs/concepts.md#transport-tls-and-redirects: the opt-in column is each backend's options."""
    pytest.importorskip("hvac")
    pytest.importorskip("boto3")
    pytest.importorskip("google.cloud.secretmanager")
    pytest.importorskip("azure.keyvault.secrets")
    from helium_secrets.backends.awssecretsmanager import AWSSecretsManagerOptions
    from helium_secrets.backends.azurekeyvault.options import AzureKeyVaultOptions
    from helium_secrets.backends.gcpsecretmanager import GCPSecretManagerOptions
    from helium_secrets.backends.hashivault import VaultOptions

    text = (Path(__file__).resolve().parents[2] / "docs" / "concepts.md").read_text()
    section = text.split("## Transport: TLS and redirects", 1)[1]
    rows = {row.split("|")[1].strip(" `"): row.split("|")[3].strip(" `")
            for row in section.splitlines() if row.startswith("| `")}
    classes = {"vault://": VaultOptions, "awssecretsmanager://": AWSSecretsManagerOptions,
               "gcpsecretmanager://": GCPSecretManagerOptions,
               "azurekeyvault://": AzureKeyVaultOptions}
    for scheme, cls in classes.items():
        fields = {f.name for f in dataclasses.fields(cls)}
        if rows[scheme] == "—":
            assert "allow_insecure_http" not in fields, scheme
        else:
            assert rows[scheme] == "allow_insecure_http" and rows[scheme] in fields, scheme
            assert cls().allow_insecure_http is False  # never on by default


def test_put_json_is_in_the_table_and_round_trips(store: SecretStore) -> None:
    assert _params(SecretStore.put_json)[:3] == [
        ("self", POS, EMPTY), ("name", POS, EMPTY), ("document", POS, EMPTY)]
    written = store.put_json("app/config", {"port": 5432, "host": "db"})
    assert written.value.reveal() == '{"host":"db","port":5432}'
    assert store.get_json("app/config", "port") == 5432
