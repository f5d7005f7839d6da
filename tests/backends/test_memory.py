"""The in-memory fake passes the conformance suite, and its test switches work."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from helium_secrets import RetryPolicy, SecretStore, open_store
from helium_secrets.backends.aio import AsyncMemoryBackend
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import ThrottledError, UnavailableError
from helium_secrets.testing import BackendHarness
from helium_secrets.testing.conformance import BackendConformance


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


class AsyncMemoryHarness(MemoryHarness):
    """The same fake, for the async twin: called on the loop (no thread)."""

    def __init__(self) -> None:
        super().__init__()
        self.twin = "async"

    def make_async_backend(self) -> AsyncMemoryBackend:
        return AsyncMemoryBackend.wrap(self.backend)


class TestMemoryAsyncTwinConformance(BackendConformance):
    """Every conformance case, on the async twin."""

    @pytest.fixture
    def harness(self) -> Iterator[MemoryHarness]:
        with AsyncMemoryHarness() as harness:
            yield harness
