"""The in-memory fake passes the conformance suite, and its test switches work."""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from helium_secrets import RetryPolicy, SecretStore, open_store
from helium_secrets.backends.memory import PENDING, MemoryBackend, reset_shared, shared
from helium_secrets.errors import (
    ConflictError,
    SecretNotFoundError,
    ThrottledError,
    UnavailableError,
    VersionNotFoundError,
)
from helium_secrets.testing import BackendHarness
from helium_secrets.testing.conformance import BackendConformance
from tests.backends.reduced import (
    COMPANION_MARK,
    KEY_VAULT_SHAPED,
    PLAIN_SHAPED,
    VAULT_KV_SHAPED,
    ReducedMemoryBackend,
)


class MemoryHarness(BackendHarness):
    """One fake is the service: every store the harness makes is a client of it."""

    faults = frozenset({"unavailable", "throttled", "lost_answer"})
    _ERRORS = {"unavailable": UnavailableError, "throttled": ThrottledError}

    def __init__(self) -> None:
        super().__init__()
        self.backend = MemoryBackend()

    def make_backend(self) -> MemoryBackend:
        return self.backend

    def write_external(self, name: str, value: str | bytes) -> str:
        return self.backend.write_external(name, value)

    def inject_fault(self, kind: str, operation: str, count: int = 1) -> None:
        if kind == "lost_answer":
            super().inject_fault(kind, operation, count)
        else:
            self.backend.fail_next(count, self._ERRORS[kind], operations=[operation])

    def clear_faults(self) -> int:
        return self.backend.clear_faults() + super().clear_faults()


class TestMemoryConformance(BackendConformance):
    @pytest.fixture
    def harness(self) -> Iterator[MemoryHarness]:
        with MemoryHarness() as harness:
            yield harness


# -- the fake shaped like the services that lack what it has natively (see reduced.py) ---------


class ReducedHarness(MemoryHarness):
    def __init__(self, **capabilities: Any) -> None:
        super().__init__()
        self.backend = ReducedMemoryBackend(**capabilities)


class TestKeyVaultShapedMemoryConformance(BackendConformance):
    @pytest.fixture
    def harness(self) -> Iterator[MemoryHarness]:
        with ReducedHarness(**KEY_VAULT_SHAPED) as harness:
            yield harness


class TestVaultKVShapedMemoryConformance(BackendConformance):
    @pytest.fixture
    def harness(self) -> Iterator[MemoryHarness]:
        with ReducedHarness(**VAULT_KV_SHAPED) as harness:
            yield harness


class TestPlainMemoryConformance(BackendConformance):
    @pytest.fixture
    def harness(self) -> Iterator[MemoryHarness]:
        with ReducedHarness(**PLAIN_SHAPED) as harness:
            yield harness


def test_the_reduced_fakes_do_not_do_what_they_lack() -> None:
    backend = ReducedMemoryBackend(**KEY_VAULT_SHAPED)
    first = backend.put("a", "1", request_token="t")
    again = backend.put("a", "1", request_token="t")
    assert again.version != first.version, "a token honoured without idempotent_put"
    with pytest.raises(AssertionError):
        backend.put("a", "2", expected_version=again.version)
    with pytest.raises(AssertionError):
        backend.stage("a", "2", expected_current=None)
    backend.put("a" + COMPANION_MARK, "staged")
    assert list(backend.list_names()) == ["a"]
    with pytest.raises(AssertionError):
        ReducedMemoryBackend(**PLAIN_SHAPED).staging_companion("a")


def test_instances_share_nothing() -> None:
    one, two = MemoryBackend(), MemoryBackend()
    one.write_external("a", "1")
    assert list(two.list_names()) == []


def test_fail_next_only_hits_chosen_operations() -> None:
    backend = MemoryBackend()
    backend.write_external("a", "1")
    backend.fail_next(1, ThrottledError, operations=["put"])
    assert backend.get("a").value == "1"  # not a put: unaffected
    store = SecretStore(backend, cache=None, retry=RetryPolicy.never())
    with pytest.raises(ThrottledError):
        store.put("a", "2")
    assert backend.calls["put"] == 1


def test_url_options() -> None:
    with open_store("mem://?max_value_bytes=10") as store:
        assert store.backend.capabilities.max_value_bytes == 10
    with pytest.raises(ValueError, match="unknown mem:// URL option"):
        open_store("mem://?colour=blue")
    # The one options parser names the option and the value (options are not secrets).
    with pytest.raises(ValueError, match="max_value_bytes='abc': expected a whole number"):
        open_store("mem://?max_value_bytes=abc")


def test_latency_switch_and_default_fault_is_unavailable() -> None:
    backend = MemoryBackend()
    backend.write_external("a", "1")
    backend.fail_next()
    with SecretStore(backend, cache=None, retry=RetryPolicy.never()) as store:
        with pytest.raises(UnavailableError):
            store.get("a")
        assert store.get("a").value.reveal() == "1"


# -- issue 11: fork safety -------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork() on this platform")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_child_forked_mid_operation_gets_fresh_locks() -> None:
    from tests.backends.forking import fork_and_run

    entered, release = threading.Event(), threading.Event()

    def clock() -> datetime:  # called under the backend's lock: hold it there
        if threading.current_thread().name == "holder":
            entered.set()
            release.wait(60)
        return datetime.now(timezone.utc)

    backend = MemoryBackend(clock=clock)
    backend.write_external("a", "1")
    # A put in flight holds the lock while it stamps the version (reads hold it only for a
    # lookup, and set_latency sleeps outside it, so a put is the one a test can hold there).
    holder = threading.Thread(target=backend.put, args=("a", "2"), name="holder", daemon=True)
    holder.start()
    assert entered.wait(60)

    def child() -> None:
        assert backend.get("a").value == "1"
        backend.put("b", "x")
        assert list(backend.list_names()) == ["a", "b"]

    status = fork_and_run(child, then=release.set)
    holder.join(60)
    assert status == 0, f"the child ended with {status} (-1: hung on a lock)"
    assert backend.get("a").value == "2"


def test_reads_after_delete_are_not_found() -> None:
    from tests.backends.deletion import assert_reads_after_delete_are_not_found

    with open_store("mem://") as store:
        assert_reads_after_delete_are_not_found(store, "app/deleted")


# -- issue 21: the fake's own contract, exactly (applications' test suites rely on it) ------


def _raises(call: Callable[[], object], error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        call()
    assert type(info.value) is error
    assert str(info.value) == message


def test_each_raw_error_says_what_went_wrong() -> None:
    backend = MemoryBackend()
    first = backend.put("a", "1", labels=["blue"])
    _raises(lambda: backend.get("a", "9"), VersionNotFoundError, "no such version or label")
    _raises(lambda: backend.put("a", "x", create_only=True), ConflictError, "secret already exists")
    _raises(lambda: backend.put("b", "x", expected_version="1"), ConflictError,
            "check-and-set failed: the secret does not exist")
    _raises(lambda: backend.put("a", "x", expected_version="9"), ConflictError,
            "check-and-set failed: the current version changed")
    _raises(lambda: backend.set_label("a", "green", "9"), VersionNotFoundError, "no such version")
    _raises(lambda: backend.stage("a", "x", expected_current="9"), ConflictError,
            "staging failed: the current version changed")
    staged = backend.stage("a", "two", expected_current=first.version)
    _raises(lambda: backend.promote("a", "9", expected_current=None), VersionNotFoundError,
            "no such version")
    _raises(lambda: backend.promote("a", staged.version, expected_current="9"), ConflictError,
            "promotion failed: the current version changed")
    _raises(lambda: backend.discard("a", first.version), ConflictError,
            "the version is current; it can no longer be discarded")
    backend.discard("a", staged.version)
    _raises(lambda: backend.get("a", staged.version), VersionNotFoundError, "version is destroyed")
    _raises(lambda: backend.delete("nope"), SecretNotFoundError, "secret not found")


def test_calls_are_counted_per_operation() -> None:
    backend = MemoryBackend()
    first = backend.put("a", "1")
    assert backend.get("a", first.version).name == "a"
    assert list(backend.list_names()) == ["a"]  # no prefix: every name
    backend.list_versions("a")
    backend.current_version("a")
    backend.set_label("a", "blue", first.version)
    staged = backend.stage("a", "2", expected_current=first.version)
    backend.promote("a", staged.version, expected_current=first.version)
    again = backend.stage("a", "3", expected_current=staged.version)
    backend.discard("a", again.version)
    assert [v.labels for v in backend.list_versions("a")][-1] == frozenset(), "pending stays"
    backend.delete("a")
    assert dict(backend.calls) == {op: 1 for op in (
        "put", "get", "list", "current_version", "set_label", "promote", "discard", "delete")
    } | {"stage": 2, "versions": 2}


def test_the_fake_declares_what_it_does() -> None:
    caps = MemoryBackend().capabilities
    assert (caps.batch_get, caps.binary, caps.versions, caps.labels, caps.version_probe,
            caps.idempotent_put, caps.check_and_set, caps.staging, caps.read_only) == (
        0, True, True, True, True, True, True, True, False)
    assert caps.managed_labels == frozenset({PENDING}), "copy leaves a staged mark out"


def test_a_fresh_fake_is_unnamed_and_adds_no_latency(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = MemoryBackend()
    assert backend.shared_name is None
    assert repr(backend) == "<MemoryBackend mem:// secrets=0>"
    slept: list[float] = []
    monkeypatch.setattr("helium_secrets.backends.memory.time.sleep", slept.append)
    backend.put("a", "1")
    assert backend.get("a").value == "1"
    assert slept == []


def test_labels_and_staging_on_the_fake() -> None:
    backend = MemoryBackend()
    first = backend.put("a", "1", labels=["blue", "green"])
    assert backend.get("a").labels == frozenset({"blue", "green"})
    backend.set_label("a", "blue", None)  # removed from every version
    assert backend.get("a").labels == frozenset({"green"})
    token = "t-1"
    staged = backend.stage("a", "2", expected_current=None, request_token=token)
    assert backend.stage("a", "2", expected_current=None, request_token=token) == staged
    assert PENDING in staged.labels
    assert backend.get("a").version == first.version, "a staged version is not current"
    assert backend.get("a", label=PENDING).value == "2"
    backend.promote("a", staged.version, expected_current=first.version)
    current = backend.get("a")
    assert (current.version, current.name, current.labels) == (staged.version, "a", frozenset())


def test_fail_next_keeps_what_an_error_instance_says() -> None:
    backend = MemoryBackend()
    backend.write_external("a", "1")
    backend.fail_next(1, ThrottledError("slow down", transient=False, retry_after=2.5))
    with SecretStore(backend, cache=None, retry=RetryPolicy.never()) as store:
        with pytest.raises(ThrottledError) as info:
            store.get("a")
        assert (info.value.transient, info.value.retry_after) == (False, 2.5)
        assert str(info.value.__cause__) == "injected fault: throttled"  # the "SDK error"
    with pytest.raises(TypeError, match="^error must be a Classified, a HeliumError class or instance$"):
        backend.fail_next(1, ValueError)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="^error must be a Classified, a HeliumError class or instance$"):
        backend.fail_next(1, "unavailable")  # type: ignore[arg-type]


def test_mem_urls_take_a_fake_name_but_no_path() -> None:
    for url in ("mem:///path", "mem://host/x"):
        with pytest.raises(ValueError, match=r"^mem:// URLs take no path: mem:// or mem://NAME$"):
            open_store(url)
    for url in ("mem://", "mem:///", "mem://host", "mem://host/"):
        open_store(url).close()


def _fresh_fake_name() -> str:
    """A named fake's name that no other test, nor an earlier run in this process, has used:
    named fakes live as long as the process (and a forked child inherits them)."""
    return f"t-{uuid.uuid4().hex}"


def test_a_named_fake_is_made_by_its_first_use_with_its_name_and_options() -> None:
    name = _fresh_fake_name()
    fake = shared(name, max_value_bytes=8)
    assert fake.shared_name == name
    assert repr(fake) == f"<MemoryBackend mem://{name} secrets=0>"
    assert shared(name, max_value_bytes=99) is fake, "later calls get the same fake"
    assert fake.options.max_value_bytes == 8
    with open_store(f"mem://{name}") as store:
        assert store.backend is fake


def test_a_named_fake_url_takes_no_options() -> None:
    name = _fresh_fake_name()
    message = (r"^a named fake \(mem://NAME\) takes no options: "
               r"the first shared\(NAME, \.\.\.\) call sets them$")
    with pytest.raises(ValueError, match=message):
        open_store(f"mem://{name}?max_value_bytes=3")
    with pytest.raises(ValueError, match=message):
        open_store(f"mem://{name}", max_value_bytes=3)


def test_reset_shared_empties_the_named_fake_or_every_named_fake() -> None:
    one, two = _fresh_fake_name(), _fresh_fake_name()
    for name in (one, two):
        shared(name).put("app/db", "x")
    reset_shared(one)
    assert list(shared(one).list_names()) == []
    assert list(shared(two).list_names()) == ["app/db"], "another named fake is left alone"
    reset_shared(_fresh_fake_name())  # a name never used: nothing to empty
    assert list(shared(two).list_names()) == ["app/db"]
    reset_shared()
    assert list(shared(two).list_names()) == []


def test_reset_forgets_secrets_faults_latency_and_call_counts(
        monkeypatch: pytest.MonkeyPatch) -> None:
    backend = MemoryBackend()
    backend.put("a", "1")
    backend.fail_next(1)
    backend.set_latency(0.25)
    backend.reset()
    slept: list[float] = []
    monkeypatch.setattr("helium_secrets.backends.memory.time.sleep", slept.append)
    assert backend.calls == {}
    with pytest.raises(SecretNotFoundError):
        backend.get("a")  # no fault left: the secret is gone
    assert slept == [], "no latency left"
    assert backend.calls == {"get": 1}


def test_the_fake_stamps_versions_in_utc_and_can_be_slowed(monkeypatch: pytest.MonkeyPatch) -> None:
    backend = MemoryBackend()
    created = backend.put("a", "1").created_at
    assert created is not None and created.utcoffset() == timedelta(0)
    slept: list[float] = []
    monkeypatch.setattr("helium_secrets.backends.memory.time.sleep", slept.append)
    backend.set_latency(0.25)
    backend.get("a")
    assert slept == [0.25]
