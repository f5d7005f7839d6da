"""Documented behaviour: README.md's tour and docs/{index,concepts,caching,rotation,testing}.md and
docs/backends/{memory,writing}.md, checked black-box through the public API on the fake.

Each test quotes (or closely paraphrases) the documentation claim it checks. The CLI page is
checked in test_cli.py.
"""

from __future__ import annotations

import inspect
import logging
import pickle
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import helium_secrets
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
    VersionInfo,
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
from helium_secrets.testing import FakeSecrets, ManualClock

ROOT = Path(__file__).resolve().parents[2]
CANARY = "canary-0d5e7a-documented-core-never-show-me"


@pytest.fixture(autouse=True)
def _private_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Schemes registered here do not outlive the test."""
    from helium_secrets import _registry

    monkeypatch.setattr(_registry, "_registry", dict(_registry._registry))


@pytest.fixture
def backend() -> MemoryBackend:
    return MemoryBackend()


@pytest.fixture
def store(backend: MemoryBackend) -> Iterator[SecretStore]:
    with SecretStore(backend, poll=PollPolicy(interval=None)) as s:
        yield s


def _python_block(text: str, after: str) -> str:
    """The first ```python block that follows the heading/text ``after``."""
    start = text.index(after)
    match = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert match is not None
    return match.group(1)


# -- README.md: the tour -----------------------------------------------------------------------


def test_readme_tour_runs_as_written() -> None:
    code = _python_block((ROOT / "README.md").read_text(encoding="utf-8"), "## A short tour")
    namespace: dict[str, Any] = {"__name__": "readme_tour"}
    exec(compile(code, "README.md:tour", "exec"), namespace)  # noqa: S102
    store = namespace["store"]
    assert store.closed  # the `with` block closed it


def test_readme_tour_comments_hold() -> None:
    with open_store("mem://", cache=CachePolicy(ttl=60)) as store:
        s = store.put("app/db", "hunter2")
        assert isinstance(s, Secret)
        # ('app/db', '1', frozenset(), datetime...)
        assert (s.name, s.version, s.labels) == ("app/db", "1", frozenset())
        assert isinstance(s.created_at, datetime)
        # Secret(name='app/db', version='1', ..., value=SecretValue('**********'))
        shown = str(s)
        assert shown.startswith("Secret(name='app/db', version='1', ")
        assert shown.endswith("value=SecretValue('**********'))")
        assert s.value.reveal() == "hunter2"

        store.put("app/db", "correct-horse", expected_version=s.version)
        with pytest.raises(ConflictError):
            store.put("app/db", "lost-update", expected_version=s.version)

        assert store.get("app/db").value.reveal() == "correct-horse"
        old = store.get("app/db", version="1")
        assert (old.version, old.value.reveal()) == ("1", "hunter2")
        versions = store.versions("app/db")
        assert [type(v) for v in versions] == [VersionInfo, VersionInfo]
        assert [v.version for v in versions] == ["1", "2"]
        store.put("app/config", '{"db": {"port": 5432}}')
        assert store.get_json("app/config", "db.port") == 5432
        many = store.get_many(["app/db", "app/config"])
        assert sorted(many) == ["app/config", "app/db"]
        assert many["app/db"].value.reveal() == "correct-horse"
        assert list(store.list("app/")) == ["app/config", "app/db"]

        seen: list[tuple[Secret | None, Secret]] = []

        @store.on_rotation("app/db")
        def reconnect(old: Secret | None, new: Secret) -> None:
            seen.append((old, new))

        assert callable(reconnect)  # the decorator hands the function back
        store.put("app/db", "third")  # "called when a new version appears"
        assert [(o.version if o else None, n.version) for o, n in seen] == [("2", "3")]

        calls_before = store.stats().backend_calls
        assert store.refresh("app/db").version == "3"
        assert store.stats().backend_calls == calls_before + 1  # bypassed the cache
        stats = store.stats()
        for counter in ("hits", "misses", "backend_calls", "retries"):
            assert isinstance(stats[counter], int)
        store.delete("app/db")
        with pytest.raises(SecretNotFoundError):
            store.get("app/db")


def test_readme_url_table_schemes_are_registered() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    schemes = set(re.findall(r"^\| `(\w+)://", text, re.M))
    assert schemes == {"mem", "file", "env", "vault", "awssecretsmanager", "azurekeyvault",
                       "gcpsecretmanager"}
    assert schemes <= set(helium_secrets.registered_schemes())


def test_import_imports_no_sdk() -> None:
    code = (
        "import sys, helium_secrets, helium_secrets.cli, helium_secrets.testing\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in "
        "('boto3', 'botocore', 'hvac', 'azure', 'google', 'grpc')]\n"
        "print(bad)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]"


# -- docs/concepts.md: the store ---------------------------------------------------------------


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


def test_open_store_without_url_uses_helium_secrets_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELIUM_SECRETS_URL", "mem://")
    with open_store() as store:
        assert isinstance(store.backend, MemoryBackend)


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


# -- docs/concepts.md: values and versions -----------------------------------------------------


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


# -- docs/concepts.md: names -------------------------------------------------------------------


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


# -- docs/concepts.md: writes that are safe to retry -------------------------------------------


def test_a_retried_put_makes_one_version(backend: MemoryBackend) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock) as store:
        # The write reaches the fake, then the answer is "lost": the retry must not write twice.
        backend.fail_next(1, UnavailableError, operations=["put"])
        store.put("a", "v")
        assert [v.version for v in store.versions("a")] == ["1"]


# -- docs/concepts.md: errors ------------------------------------------------------------------

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


# -- docs/concepts.md: audit events ------------------------------------------------------------


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


# -- docs/concepts.md: URLs and registration ---------------------------------------------------


def test_register_backend_refuses_to_replace_unless_asked() -> None:
    with pytest.raises(ValueError, match="replace=True"):
        register_backend("mem", MemoryBackend)
    register_backend("documented-test", MemoryBackend)
    with pytest.raises(ValueError, match="already registered"):
        register_backend("documented-test", MemoryBackend)
    register_backend("documented-test", MemoryBackend, replace=True)
    with open_store("documented-test://") as store:
        assert isinstance(store.backend, MemoryBackend)


# -- docs/caching.md ---------------------------------------------------------------------------


def test_policy_defaults_are_the_documented_ones() -> None:
    assert CachePolicy() == CachePolicy(ttl=300.0, max_entries=1024, refresh_ahead=0.2,
                                        stale_if_error=900.0, negative_ttl=5.0)
    assert RetryPolicy() == RetryPolicy(max_attempts=4, initial_backoff=0.1, max_backoff=5.0,
                                        deadline=30.0, respect_retry_after=True,
                                        max_retry_after=60.0)
    assert RetryPolicy.never().max_attempts == 1
    assert GuardPolicy() == GuardPolicy(threshold=5, cooldown=5.0)
    assert PollPolicy() == PollPolicy(interval=60.0, jitter=0.2, max_backoff=600.0)


@pytest.mark.parametrize("make", [
    lambda: CachePolicy(ttl=-1), lambda: CachePolicy(max_entries=0),
    lambda: CachePolicy(refresh_ahead=1.5), lambda: CachePolicy(stale_if_error=-1),
    lambda: CachePolicy(negative_ttl=-1), lambda: RetryPolicy(max_attempts=0),
    lambda: RetryPolicy(initial_backoff=-1), lambda: RetryPolicy(deadline=-1),
    lambda: GuardPolicy(threshold=-1), lambda: GuardPolicy(cooldown=-1),
    lambda: PollPolicy(interval=0), lambda: PollPolicy(jitter=2),
])
def test_invalid_policy_values_raise_value_error(make: Any) -> None:
    with pytest.raises(ValueError, match="Policy"):
        make()


def test_policies_are_frozen_and_replace_derives() -> None:
    policy = RetryPolicy()
    derived = policy.replace(deadline=2.0)
    assert (derived.deadline, policy.deadline) == (2.0, 30.0)
    with pytest.raises(AttributeError):
        policy.deadline = 1.0  # type: ignore[misc]
    with pytest.raises(ValueError, match="max_attempts"):
        policy.replace(max_attempts=0)


def test_the_caching_page_example_calls(backend: MemoryBackend) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock, cache=CachePolicy(ttl=60, refresh_ahead=0)) as store:
        backend.write_external("app/db", "v1")
        store.get("app/db")
        clock.advance(10)
        store.get("app/db")  # cached for 60 s
        assert backend.calls["get"] == 1
        store.get("app/db", ttl=5)  # accept a cached value at most 5 s old
        assert backend.calls["get"] == 2
        store.refresh("app/db")  # bypass the cache once
        assert backend.calls["get"] == 3
        store.clear_cache()  # forget everything cached
        store.get("app/db")
        assert backend.calls["get"] == 4
    with SecretStore(backend, clock=clock, cache=None) as store:
        backend.fail_next(1, UnavailableError)
        with pytest.raises(UnavailableError):
            store.get("app/db", retry=RetryPolicy.never())  # one attempt, whatever the policy
        assert backend.calls["get"] == 5


def test_a_store_without_cache_reads_the_backend_every_time(backend: MemoryBackend) -> None:
    with SecretStore(backend, cache=None) as store:
        store.put("a", "v")
        store.get("a")
        store.get("a")
        assert backend.calls["get"] == 2


def test_versioned_and_labelled_reads_are_not_cached(store: SecretStore,
                                                    backend: MemoryBackend) -> None:
    store.put("a", "v", labels=["blue"])
    for _ in range(2):
        store.get("a", version="1")
        store.get("a", label="blue")
    assert backend.calls["get"] == 4


def test_negative_caching_as_documented(backend: MemoryBackend) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock) as store:
        for _ in range(3):
            with pytest.raises(SecretNotFoundError) as info:
                store.get("nope")
        assert backend.calls["get"] == 1
        assert store.stats().negative_hits == 2
        assert "secret not found (cached answer)" in str(info.value)
        assert "nope" in str(info.value)  # every error names the secret
        backend.write_external("nope", "now")
        with pytest.raises(SecretNotFoundError):
            store.get("nope")  # created by someone else: visible when the answer expires
        clock.advance(5.0)
        assert store.get("nope").value.reveal() == "now"
        # The store's own put replaces a remembered answer at once.
        with pytest.raises(SecretNotFoundError):
            store.get("other")
        store.put("other", "mine")
        assert store.get("other").value.reveal() == "mine"


def test_version_not_found_is_not_negatively_cached(store: SecretStore,
                                                    backend: MemoryBackend) -> None:
    store.put("a", "v")
    for _ in range(2):
        with pytest.raises(VersionNotFoundError):
            store.get("a", version="7")
    assert backend.calls["get"] == 2


def test_own_writes_invalidate_and_delete_drops(store: SecretStore,
                                               backend: MemoryBackend) -> None:
    store.put("a", "v")
    store.get("a")
    store.put("a", "w", metadata={"team": "x"})
    assert store.get("a").value.reveal() == "w"  # the write dropped the cached "v"
    assert dict(store.get("a").metadata) == {"team": "x"}  # read back, as the backend has it
    assert backend.calls["get"] == 2  # one read after each write; then cache hits
    store.delete("a")
    with pytest.raises(SecretNotFoundError):
        store.get("a")


def test_eviction_by_fetch_time(backend: MemoryBackend) -> None:
    with SecretStore(backend, cache=CachePolicy(max_entries=2)) as store:
        for name in ("a", "b", "c"):
            backend.write_external(name, name)
        store.get("a")
        store.get("b")
        store.get("a")  # a read does not protect "a": eviction is by fetch time
        store.get("c")
        assert store.stats().evictions == 1
        store.get("b")
        assert backend.calls["get"] == 3  # "b" is still cached
        store.get("a")
        assert backend.calls["get"] == 4  # "a" was evicted


def test_stale_if_error_serves_then_refresh_raises(backend: MemoryBackend) -> None:
    clock = ManualClock()
    events: list[AuditEvent] = []
    with SecretStore(backend, clock=clock, audit=[events.append],
                     cache=CachePolicy(ttl=10, refresh_ahead=0, stale_if_error=100)) as store:
        backend.write_external("a", "old")
        store.get("a")
        clock.advance(20)
        backend.fail_next(10, UnavailableError)
        assert store.get("a").value.reveal() == "old"
        assert store.stats().stale_served == 1
        assert [(e.outcome, e.cache) for e in events[-2:]] == [("error", "miss"), ("ok", "stale")]
        backend.clear_faults()
        backend.fail_next(10, UnavailableError)
        with pytest.raises(UnavailableError):
            store.refresh("a")  # never falls back to a stale value
        backend.clear_faults()
        clock.advance(200)  # past the stale window
        backend.fail_next(10, UnavailableError)
        with pytest.raises(UnavailableError):
            store.get("a")


def test_permanent_errors_are_never_masked_by_stale(backend: MemoryBackend) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock, cache=CachePolicy(ttl=10, refresh_ahead=0)) as store:
        backend.write_external("a", "old")
        store.get("a")
        clock.advance(20)
        backend.fail_next(1, errors.PermissionDeniedError)
        with pytest.raises(errors.PermissionDeniedError):
            store.get("a")


def test_only_transient_errors_are_retried(backend: MemoryBackend) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock, cache=None) as store:
        backend.write_external("a", "v")
        backend.fail_next(3, errors.ThrottledError)
        assert store.get("a").value.reveal() == "v"
        assert store.stats().retries == 3 and len(clock.sleeps) == 3
        backend.fail_next(1, errors.PermissionDeniedError)
        with pytest.raises(errors.PermissionDeniedError):
            store.get("a")
        assert store.stats().retries == 3
        backend.fail_next(4, UnavailableError)
        with pytest.raises(UnavailableError) as info:
            store.get("a")  # max_attempts=4: the last error is raised as it is
        assert info.value.transient is True


def test_the_guard_trips_and_refuses_without_a_call(backend: MemoryBackend) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock, cache=None, retry=RetryPolicy.never(),
                     guard=GuardPolicy(threshold=2, cooldown=5.0)) as store:
        backend.write_external("a", "v")
        backend.fail_next(2, UnavailableError)
        for _ in range(2):
            with pytest.raises(UnavailableError):
                store.get("a")
        calls = backend.calls["get"]
        with pytest.raises(UnavailableError) as info:
            store.get("a")
        assert backend.calls["get"] == calls
        assert info.value.transient is True
        assert "paused for" in str(info.value) and "after repeated failures" in str(info.value)
        assert store.stats().guard_trips == 1
        clock.advance(5.0)
        assert store.get("a").value.reveal() == "v"  # the trial call closes it


def test_stats_counters_are_the_documented_ones(store: SecretStore) -> None:
    documented = {"hits", "misses", "negative_hits", "stale_served", "coalesced", "refreshes",
                  "backend_calls", "retries", "errors", "evictions", "guard_trips",
                  "rotations_polled", "callback_errors", "cached"}
    stats = store.stats()
    assert set(stats.as_dict()) == documented
    assert set(dict(stats)) == documented
    assert stats["hits"] == stats.hits


# -- docs/rotation.md --------------------------------------------------------------------------


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


# -- docs/testing.md ---------------------------------------------------------------------------


def test_plugin_fixtures_from_the_docs(fake_secrets: FakeSecrets,
                                       secret_store: SecretStore) -> None:
    assert fake_secrets.store is secret_store
    fake_secrets.seed({"app/db": "hunter2"})
    assert secret_store.get("app/db").value.reveal() == "hunter2"
    assert fake_secrets.calls["get"] == 1
    seen: list[str] = []
    secret_store.on_rotation("app/db", lambda old, new: seen.append(new.value.reveal()))
    fake_secrets.rotate("app/db", "new")
    secret_store.rotation.poll_once()
    assert seen == ["new"]


def test_plugin_survives_an_outage(fake_secrets: FakeSecrets,
                                   secret_store: SecretStore) -> None:
    fake_secrets.seed({"app/db": "hunter2"})
    fake_secrets.fail_next(2, UnavailableError)
    assert secret_store.get("app/db").value.reveal() == "hunter2"


def test_fake_secrets_members() -> None:
    fake = FakeSecrets(cache=CachePolicy(ttl=60))
    assert isinstance(fake.backend, MemoryBackend)
    assert fake.rotate("a", "one") == "1"  # returns its version id
    assert fake.rotate("a", "two") == "2"
    assert fake.secret("a").value.reveal() == "two"
    assert fake.calls["get"] == 0  # inspecting is not counted
    fake.fail_next(1, errors.PermissionDeniedError, operations=["list"])
    assert fake.store.get("a").value.reveal() == "two"  # a get is not affected
    with pytest.raises(errors.PermissionDeniedError):
        list(fake.store.list())
    fake.store.put("b", "v")
    fake.store.delete("b")
    fake.store.versions("a")
    fake.store.current_version("a")
    fake.store.set_label("a", "x", "1")
    assert {"get", "put", "delete", "list", "versions", "current_version", "set_label"} <= set(
        fake.calls)
    fake.close()
    assert fake.store.closed


def test_manual_clock_example_from_the_docs() -> None:
    clock = ManualClock()
    fake = FakeSecrets(clock=clock, cache=CachePolicy(ttl=60, refresh_ahead=0))
    fake.seed({"app/db": "one"})
    fake.store.get("app/db")
    fake.rotate("app/db", "two")
    clock.advance(61)
    assert fake.store.get("app/db").value.reveal() == "two"
    clock.sleep(1.5)
    assert clock.sleeps == [1.5]
    fake.close()


def test_two_mem_stores_never_share_secrets() -> None:
    with open_store("mem://") as one, open_store("mem://") as two:
        one.put("a", "v")
        with pytest.raises(SecretNotFoundError):
            two.get("a")


# -- docs/backends/memory.md -------------------------------------------------------------------


def test_memory_backend_options() -> None:
    assert MemoryBackend().capabilities.max_value_bytes == 65536
    with open_store("mem://?max_value_bytes=1024") as store:
        store.put("a", "x" * 1024)
        with pytest.raises(errors.TooLargeError) as info:
            store.put("a", CANARY * 100)
        assert CANARY not in str(info.value) and "a" in str(info.value)
    fixed = datetime(2030, 1, 2, 3, 4, 5)
    with SecretStore(MemoryBackend(clock=lambda: fixed)) as store:
        assert store.put("a", "v").created_at == fixed
    with open_store("mem://", clock=ManualClock()) as store:  # open_store's clock is the store's
        assert store.put("a", "v").created_at != fixed
    with pytest.raises(ValueError, match="no_such_option"):
        open_store("mem://?no_such_option=1")


def test_memory_labels_move_and_versions_count(store: SecretStore) -> None:
    assert store.put("a", "1", labels=["blue"]).version == "1"
    assert store.put("a", "2", labels=["blue"]).version == "2"
    labels = {v.version: v.labels for v in store.versions("a")}
    assert labels == {"1": frozenset(), "2": frozenset({"blue"})}
    store.set_label("a", "blue", "1")
    assert store.get("a", label="blue").version == "1"


def test_memory_switches(backend: MemoryBackend) -> None:
    with SecretStore(backend, retry=RetryPolicy.never()) as store:
        backend.write_external("a", "v")
        backend.fail_next(5, UnavailableError)
        backend.clear_faults()
        assert store.get("a").value.reveal() == "v"
        backend.set_latency(0.0)
        assert backend.calls["get"] == 1


# -- docs/backends/writing.md ------------------------------------------------------------------


def test_the_backend_protocol_members_exist() -> None:
    from helium_secrets.backends import Backend, BackendBase, Capabilities, RawSecret

    documented = {"name", "capabilities", "get", "put", "delete", "list_names", "list_versions",
                  "current_version", "get_many", "set_label", "stage", "promote", "discard",
                  "classify", "close"}
    assert documented <= set(dir(Backend))
    assert isinstance(MemoryBackend(), Backend)
    assert hasattr(BackendBase, "from_url")
    fields = {"binary", "versions", "labels", "read_only", "max_value_bytes", "name_rules",
              "version_probe", "batch_get", "idempotent_put", "check_and_set", "staging"}
    assert fields <= set(Capabilities.__dataclass_fields__)
    assert RawSecret is not None
    put = inspect.signature(Backend.put).parameters
    assert {"expected_version", "create_only", "request_token", "metadata", "labels"} <= set(put)


def test_memory_keyword_wins_over_the_url() -> None:
    with open_store("mem://?max_value_bytes=1024", max_value_bytes=8) as store:
        assert store.backend.capabilities.max_value_bytes == 8


# -- docs/caching.md: the finer points ---------------------------------------------------------


def test_per_call_ttl_rules(backend: MemoryBackend) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock, cache=CachePolicy(ttl=60, refresh_ahead=0)) as store:
        backend.write_external("a", "v")
        store.get("a", ttl=5)  # fetched by a call with ttl=5: cached for 5 s, not 60
        clock.advance(6)
        store.get("a")
        assert backend.calls["get"] == 2
        clock.advance(61)  # expired under the store's TTL
        store.get("a", ttl=1000)  # a longer per-call ttl does not extend an expired entry
        assert backend.calls["get"] == 3
        store.get("a", ttl=0)  # ttl=0 asks for a fetch
        assert backend.calls["get"] == 4


def test_refresh_ahead_serves_at_once_and_refreshes_in_the_background(
    backend: MemoryBackend,
) -> None:
    clock = ManualClock()
    seen: list[str] = []
    store = SecretStore(backend, clock=clock, cache=CachePolicy(ttl=100, refresh_ahead=0.2))
    backend.write_external("a", "one")
    store.get("a")
    store.on_rotation("a", lambda old, new: seen.append(new.value.reveal()))
    backend.write_external("a", "two")
    clock.advance(79)  # before the window (drawn in [80, 90]): a plain hit
    assert store.get("a").value.reveal() == "one"
    assert backend.calls["get"] == 1
    clock.advance(12)  # inside the window: served at once, refreshed in the background
    assert store.get("a").value.reveal() == "one"
    store.close()  # waits for the refresh in progress
    assert backend.calls["get"] == 2
    assert store.stats().refreshes == 1
    assert store.stats().hits == 3  # on_rotation read it once (a hit), then two reads
    assert seen == ["two"]  # listeners are told of the new version


def test_concurrent_misses_make_one_backend_call() -> None:
    import threading

    release = threading.Event()

    class Slow(MemoryBackend):
        def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
            release.wait(60)
            return super().get(name, version, label)

    backend = Slow()
    backend.write_external("a", "v")
    events: list[AuditEvent] = []
    with SecretStore(backend, audit=[events.append]) as store:
        results: list[str] = []
        threads = [threading.Thread(target=lambda: results.append(store.get("a").version))
                   for _ in range(8)]
        for thread in threads:
            thread.start()
        for _ in range(6000):  # until the seven others wait on the first (no timing assertion)
            if store.stats().coalesced == 7:
                break
            threading.Event().wait(0.01)
        release.set()
        for thread in threads:
            thread.join(60)
        assert results == ["1"] * 8
        assert backend.calls["get"] == 1
        assert store.stats().coalesced == 7
        # caching.md / concepts.md list the audit `cache` values; a waiter's is one of them.
        assert {e.cache for e in events} <= {"hit", "miss", "stale", "negative", "coalesced",
                                              None}


def test_throttling_hints_are_respected_up_to_max_retry_after(backend: MemoryBackend) -> None:
    from helium_secrets.backends._base import Classified

    clock = ManualClock()
    with SecretStore(backend, clock=clock, cache=None) as store:
        backend.write_external("a", "v")
        backend.fail_next(1, Classified(ErrorCode.THROTTLED, retry_after=2.5))
        assert store.get("a").value.reveal() == "v"
        assert clock.sleeps and clock.sleeps[0] >= 2.5  # the larger of backoff and hint
        backend.fail_next(1, Classified(ErrorCode.THROTTLED, retry_after=61.0))
        calls = backend.calls["get"]
        with pytest.raises(errors.ThrottledError) as info:
            store.get("a")  # over max_retry_after (60 s): fails at once
        assert backend.calls["get"] == calls + 1
        assert info.value.retry_after == 61.0  # kept for the caller


def test_the_deadline_bounds_the_waits(backend: MemoryBackend) -> None:
    from helium_secrets.backends._base import Classified

    clock = ManualClock()
    policy = RetryPolicy(max_attempts=10, deadline=1.0)
    with SecretStore(backend, clock=clock, cache=None, retry=policy) as store:
        backend.write_external("a", "v")
        backend.fail_next(10, Classified(ErrorCode.THROTTLED, retry_after=0.6))
        with pytest.raises(errors.ThrottledError):
            store.get("a")
        assert backend.calls["get"] == 2  # a second wait of 0.6 s would cross the deadline
        assert sum(clock.sleeps) < 1.0


class _NoTokens(MemoryBackend):
    """The fake without idempotency tokens, like a service that has none."""

    def __init__(self) -> None:
        import dataclasses

        super().__init__()
        self.capabilities = dataclasses.replace(self.capabilities, idempotent_put=False)


def test_a_plain_put_without_tokens_is_never_retried() -> None:
    backend = _NoTokens()
    with SecretStore(backend, clock=ManualClock()) as store:
        backend.fail_next(1, UnavailableError, operations=["put"])
        with pytest.raises(UnavailableError):
            store.put("a", "v")
        assert backend.calls["put"] == 1
        backend.fail_next(1, UnavailableError, operations=["put"])
        assert store.put("a", "v", create_only=True).version == "1"  # conditional: retried
        assert backend.calls["put"] == 3


def test_a_delete_is_retried(backend: MemoryBackend) -> None:
    with SecretStore(backend, clock=ManualClock()) as store:
        store.put("a", "v")
        backend.fail_next(1, UnavailableError, operations=["delete"])
        store.delete("a")
        assert backend.calls["delete"] == 2
        with pytest.raises(SecretNotFoundError):
            store.get("a")


def test_a_minimal_backend_on_backend_base_gets_the_documented_defaults() -> None:
    from helium_secrets.backends import BackendBase, Capabilities, RawSecret
    from helium_secrets.generators import PasswordGenerator
    from helium_secrets.testing.conformance import BackendConformance

    assert isinstance(BackendConformance, type)

    class Tiny(BackendBase):
        name = "tiny"
        capabilities = Capabilities(versions=False)

        def __init__(self) -> None:
            self.data: dict[str, str | bytes] = {}

        def get(self, name: str, version: str | None = None,
                label: str | None = None) -> RawSecret:
            if name not in self.data:
                raise SecretNotFoundError("secret not found")
            return RawSecret(name=name, value=self.data[name], version="1")

        def put(self, name: str, value: str | bytes, **kwargs: Any) -> VersionInfo:
            self.data[name] = value
            return VersionInfo("1")

        def delete(self, name: str, *, purge: bool = False) -> None:
            del self.data[name]

        def list_names(self, prefix: str = "") -> Iterator[str]:
            return iter(sorted(n for n in self.data if n.startswith(prefix)))

        def list_versions(self, name: str) -> list[VersionInfo]:
            return [VersionInfo("1")]

    register_backend("documented-tiny", Tiny, replace=True)
    with open_store("documented-tiny://") as store:
        store.put("a", "v")
        assert store.current_version("a") == "1"  # built on get
        assert store.get_many(["a"])["a"].value.reveal() == "v"  # built on get
        with pytest.raises(errors.UnsupportedError):
            store.rotate_staged("a", PasswordGenerator(), lambda pending: True)
        assert store.get("a").value.reveal() == "v"


def test_set_label_on_a_backend_without_labels_is_unsupported() -> None:
    import dataclasses

    backend = MemoryBackend()
    backend.capabilities = dataclasses.replace(backend.capabilities, labels=False)
    with SecretStore(backend) as store:
        store.put("a", "v")
        with pytest.raises(errors.UnsupportedError) as info:
            store.set_label("a", "blue", "1")
        assert "memory" in str(info.value) and "'a'" in str(info.value)


# -- docs/caching.md: the guard's trial call, stale under the guard, deletes, labels ---------------


def test_the_guard_trial_call_reopens_on_failure(backend: MemoryBackend) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock, cache=None, retry=RetryPolicy.never(),
                     guard=GuardPolicy(threshold=1, cooldown=5.0)) as store:
        backend.write_external("a", "v")
        backend.fail_next(2, UnavailableError)
        with pytest.raises(UnavailableError):
            store.get("a")
        assert store.stats().guard_trips == 1
        clock.advance(5.0)
        with pytest.raises(UnavailableError):
            store.get("a")  # the trial call fails: another cool-down
        assert store.stats().guard_trips == 2
        calls = backend.calls["get"]
        with pytest.raises(UnavailableError, match="paused"):
            store.get("a")
        assert backend.calls["get"] == calls


def test_the_guard_serves_stale_and_fresh_hits_are_unaffected(backend: MemoryBackend) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock, retry=RetryPolicy.never(),
                     cache=CachePolicy(ttl=10, refresh_ahead=0),
                     guard=GuardPolicy(threshold=1, cooldown=60.0)) as store:
        backend.write_external("a", "a-value")
        backend.write_external("b", "b-value")
        store.get("a")
        clock.advance(11)
        store.get("b")  # fresh
        backend.fail_next(1, UnavailableError)
        assert store.get("a").value.reveal() == "a-value"  # failed, served stale; guard trips
        assert store.stats().guard_trips == 1
        calls = sum(backend.calls.values())
        assert store.get("a").value.reveal() == "a-value"  # refused by the guard, stale
        assert store.get("b").value.reveal() == "b-value"  # a fresh hit: not affected
        assert sum(backend.calls.values()) == calls
        assert store.stats().stale_served == 2


def test_a_secret_deleted_elsewhere_is_not_found_not_stale(backend: MemoryBackend) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock, cache=CachePolicy(ttl=10, refresh_ahead=0)) as store:
        backend.write_external("a", "v")
        store.get("a")
        backend.delete("a")
        clock.advance(11)
        with pytest.raises(SecretNotFoundError):
            store.get("a")


def test_set_label_drops_the_cached_entry(store: SecretStore, backend: MemoryBackend) -> None:
    store.put("a", "v")
    store.get("a")
    store.set_label("a", "blue", "1")
    store.get("a")
    assert backend.calls["get"] == 2  # one read after the put, one after set_label
    assert store.get("a").labels == frozenset({"blue"})


# -- docs/rotation.md: listeners, poller, rotate, credentials ---------------------------------------


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


def test_rotate_checks_the_backend_limits_before_any_call() -> None:
    from helium_secrets.generators import PasswordGenerator

    backend = MemoryBackend(max_value_bytes=16)
    with SecretStore(backend) as store:
        with pytest.raises(errors.TooLargeError):
            store.rotate("a", PasswordGenerator(length=32))
        assert sum(backend.calls.values()) == 0


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


# -- docs/testing.md: the examples, run as a user would ----------------------------------------


def test_the_plugin_examples_pass_under_pytest(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    path = tmp_path / "test_app_example.py"
    path.write_text(_python_block(text, "## The pytest plugin"), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(path)], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stdout[-2000:]
    assert "3 passed" in result.stdout


def test_the_manual_clock_example_runs_as_written() -> None:
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    code = _python_block(text, "## Controlling time")
    exec(compile(code, "testing.md:clock", "exec"), {"__name__": "clock_example"})  # noqa: S102


def test_fake_secrets_caches_by_default_and_adds_latency() -> None:
    import time

    fake = FakeSecrets()
    fake.seed({"a": "v"})
    fake.store.get("a")
    fake.store.get("a")
    assert fake.calls["get"] == 1  # the cache is on by default
    fake.set_latency(0.05)
    started = time.perf_counter()
    fake.store.get("a", ttl=0)
    assert time.perf_counter() - started >= 0.05  # every backend call sleeps this long
    fake.close()


# -- bad input fails before any call (DESIGN.md: validation happens in the store) ---------------


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


def test_a_negative_per_call_ttl_is_refused(store: SecretStore) -> None:
    store.put("a", "v")
    with pytest.raises(ValueError, match="ttl"):
        store.get("a", ttl=-1)


# -- docs/caching.md: a failed background refresh; docs/testing.md: faults are real errors --------


def test_a_failed_background_refresh_logs_its_type_only(
    backend: MemoryBackend, caplog: pytest.LogCaptureFixture
) -> None:
    from helium_secrets.backends._base import Classified

    clock = ManualClock()
    store = SecretStore(backend, clock=clock, retry=RetryPolicy.never(),
                        cache=CachePolicy(ttl=100, refresh_ahead=0.2))
    backend.write_external("a", "v")
    store.get("a")
    clock.advance(91)
    backend.fail_next(1, Classified(ErrorCode.UNAVAILABLE, message=CANARY))
    with caplog.at_level(logging.DEBUG, logger="helium_secrets"):
        assert store.get("a").value.reveal() == "v"  # served at once
        store.close()  # waits for the refresh in progress
    assert backend.calls["get"] == 2
    assert "UnavailableError" in caplog.text
    assert CANARY not in caplog.text


def test_injected_faults_go_through_the_real_error_path(backend: MemoryBackend) -> None:
    events: list[AuditEvent] = []
    with SecretStore(backend, audit=[events.append], retry=RetryPolicy.never()) as store:
        backend.write_external("a", "v")
        backend.fail_next(1, errors.PermissionDeniedError("denied"))  # an instance works too
        with pytest.raises(errors.PermissionDeniedError) as info:
            store.get("a")
        assert info.value.backend == "memory" and info.value.name == "a"
        assert store.stats().errors == 1
        assert (events[-1].outcome, events[-1].error_code) == ("error", "permission_denied")


def test_a_missing_extra_names_the_pip_command() -> None:
    register_backend("documented-noextra", "no_such_sdk_for_documented_tests:Backend",
                     extra="documented", replace=True)
    with pytest.raises(ImportError, match=re.escape("pip install 'helium-secrets[documented]'")):
        open_store("documented-noextra://")


def test_get_many_serves_cached_names_and_caches_what_it_fetches(
    store: SecretStore, backend: MemoryBackend
) -> None:
    backend.write_external("a", "1")
    backend.write_external("b", "2")
    store.get("a")
    assert backend.calls["get"] == 1
    got = store.get_many(["a", "b"])
    assert {n: s.value.reveal() for n, s in got.items()} == {"a": "1", "b": "2"}
    assert backend.calls["get"] == 2  # only "b" was fetched
    store.get("b")
    assert backend.calls["get"] == 2  # and cached


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


def test_put_takes_text_bytes_or_a_secret_value(store: SecretStore) -> None:
    copied = store.put("b", store.put("a", CANARY).value)
    assert copied.value.reveal() == CANARY
    binary = store.put("c", b"\xff\x00")
    assert binary.value.is_binary and store.get("c").value.reveal_bytes() == b"\xff\x00"


# -- docs/caching.md: coalesced errors, refresh joining, the guard's count, backoff bounds --------


class _Gate(MemoryBackend):
    """A fake whose reads wait at a gate, so that other callers can pile up behind one."""

    def __init__(self) -> None:
        import threading

        super().__init__()
        self.gate = threading.Event()

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
        self.gate.wait(60)
        return super().get(name, version, label)


def _until(predicate: Any) -> None:
    import threading

    for _ in range(6000):  # an event to await, polled; no timing assertion
        if predicate():
            return
        threading.Event().wait(0.01)
    raise AssertionError("the condition never held")


def test_coalesced_waiters_each_get_their_own_error() -> None:
    import threading

    backend = _Gate()
    with SecretStore(backend, retry=RetryPolicy.never()) as store:
        caught: list[SecretNotFoundError] = []

        def read() -> None:
            try:
                store.get("missing")
            except SecretNotFoundError as exc:
                caught.append(exc)

        threads = [threading.Thread(target=read) for _ in range(4)]
        for thread in threads:
            thread.start()
        _until(lambda: store.stats().coalesced == 3)
        backend.gate.set()
        for thread in threads:
            thread.join(60)
        assert len(caught) == 4 and backend.calls["get"] == 1
        assert len({id(exc) for exc in caught}) == 4  # never one object shared between threads
        assert all(exc.name == "missing" for exc in caught)


def test_refresh_joins_a_read_in_flight() -> None:
    import threading

    backend = _Gate()
    backend.write_external("a", "v")
    with SecretStore(backend) as store:
        reader = threading.Thread(target=lambda: store.get("a"))
        reader.start()
        _until(lambda: store.stats().misses == 1)
        refreshed: list[Secret] = []
        joiner = threading.Thread(target=lambda: refreshed.append(store.refresh("a")))
        joiner.start()
        _until(lambda: store.stats().coalesced == 1)
        backend.gate.set()
        reader.join(60)
        joiner.join(60)
        assert backend.calls["get"] == 1 and refreshed[0].version == "1"


def test_an_answer_resets_the_guard_count(backend: MemoryBackend) -> None:
    with SecretStore(backend, cache=None, retry=RetryPolicy.never(),
                     guard=GuardPolicy(threshold=2, cooldown=5.0)) as store:
        backend.fail_next(1, UnavailableError)
        with pytest.raises(UnavailableError):
            store.get("a")
        with pytest.raises(SecretNotFoundError):
            store.get("a")  # a permanent error is an answer: the backend is up
        backend.fail_next(1, UnavailableError)
        with pytest.raises(UnavailableError):
            store.get("a")
        assert store.stats().guard_trips == 0


def test_one_guard_per_store_shared_by_all_operations(backend: MemoryBackend) -> None:
    with SecretStore(backend, cache=None, retry=RetryPolicy.never(),
                     guard=GuardPolicy(threshold=1, cooldown=60.0)) as store:
        backend.fail_next(1, UnavailableError)
        with pytest.raises(UnavailableError):
            store.get("a")
        calls = sum(backend.calls.values())
        for call in (lambda: list(store.list()), lambda: store.put("a", "v"),
                     lambda: store.versions("a"), lambda: store.current_version("a")):
            with pytest.raises(UnavailableError, match="paused"):
                call()
        assert sum(backend.calls.values()) == calls
    with SecretStore(backend, cache=None) as other:
        other.put("b", "v")  # another store has its own guard


def test_full_jitter_backoff_bounds(backend: MemoryBackend) -> None:
    clock = ManualClock()
    policy = RetryPolicy(max_attempts=6, initial_backoff=0.1, max_backoff=0.25, deadline=None)
    with SecretStore(backend, clock=clock, cache=None, retry=policy) as store:
        backend.write_external("a", "v")
        backend.fail_next(5, UnavailableError)
        store.get("a")
    caps = [0.1, 0.2, 0.25, 0.25, 0.25]  # min(max_backoff, initial x 2^(n-1))
    assert len(clock.sleeps) == 5
    assert all(0 <= wait <= cap for wait, cap in zip(clock.sleeps, caps, strict=True))


def test_retry_after_is_ignored_when_not_respected(backend: MemoryBackend) -> None:
    from helium_secrets.backends._base import Classified

    clock = ManualClock()
    policy = RetryPolicy(respect_retry_after=False)
    with SecretStore(backend, clock=clock, cache=None, retry=policy) as store:
        backend.write_external("a", "v")
        backend.fail_next(1, Classified(ErrorCode.THROTTLED, retry_after=30.0))
        store.get("a")
    assert clock.sleeps and clock.sleeps[0] <= 0.1


def test_audit_hooks_run_on_the_calling_thread(store: SecretStore) -> None:
    import threading

    threads: list[int] = []
    store.add_audit_hook(lambda event: threads.append(threading.get_ident()))
    store.put("a", "v")
    store.get("a")
    assert threads == [threading.get_ident()] * 2


def test_memory_honours_request_tokens_and_has_a_cheap_probe() -> None:
    backend = MemoryBackend()
    assert backend.capabilities.idempotent_put and backend.capabilities.version_probe
    first = backend.put("a", "v", expected_version=None, create_only=False,
                        request_token="token-1", metadata=None, labels=())
    again = backend.put("a", "v", expected_version=None, create_only=False,
                        request_token="token-1", metadata=None, labels=())
    assert first.version == again.version == "1"
    assert [v.version for v in backend.list_versions("a")] == ["1"]
    assert backend.current_version("a") == "1"


def test_the_conformance_example_runs_for_a_third_party_backend(tmp_path: Path) -> None:
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    code = _python_block(text, "## Checking your own backend")
    assert "MyBackend(...)" in code
    # The stand-in for "a new client of the test server": every client reaches one fake.
    code = code.replace("MyBackend(...)", "MyBackend()")
    code = ("from helium_secrets.backends.memory import MemoryBackend\n"
            "SERVICE = MemoryBackend()\n"
            "def MyBackend():\n"
            "    return SERVICE\n") + code
    path = tmp_path / "test_my_backend.py"
    path.write_text(code, encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(path)], capture_output=True, text=True, timeout=600,
                            cwd=tmp_path, check=False)
    assert result.returncode == 0, result.stdout[-2000:]
    assert re.search(r"\d+ passed", result.stdout)


def test_a_per_call_ttl_that_finds_an_entry_too_old_can_serve_it_stale(
    backend: MemoryBackend,
) -> None:
    clock = ManualClock()
    with SecretStore(backend, clock=clock, retry=RetryPolicy.never()) as store:
        store.put("a", "v")
        store.get("a")
        backend.fail_next(1, UnavailableError)
        assert store.get("a", ttl=0).value.reveal() == "v"
        assert store.stats().stale_served == 1
        backend.fail_next(1, UnavailableError)
        with pytest.raises(UnavailableError):
            store.refresh("a")  # the backend's answer or its error
    with SecretStore(backend, clock=clock, retry=RetryPolicy.never(),
                     cache=CachePolicy(stale_if_error=0)) as store:
        store.get("a")
        backend.fail_next(1, UnavailableError)
        with pytest.raises(UnavailableError):
            store.get("a", ttl=0)  # stale_if_error=0 never serves stale
