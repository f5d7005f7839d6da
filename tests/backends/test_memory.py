"""The in-memory fake passes the conformance suite, and its test switches work."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helium_secrets import RetryPolicy, SecretStore, open_store
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
    with pytest.raises(ValueError, match="whole number of bytes") as info:
        open_store("mem://?max_value_bytes=abc")
    assert "abc" not in str(info.value)


def test_latency_switch_and_default_fault_is_unavailable() -> None:
    backend = MemoryBackend()
    backend.write_external("a", "1")
    backend.fail_next()
    with SecretStore(backend, cache=None, retry=RetryPolicy.never()) as store:
        with pytest.raises(UnavailableError):
            store.get("a")
        assert store.get("a").value.reveal() == "1"
