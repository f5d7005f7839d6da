"""docs/backends/memory.md: the fake's options, labels, versions, tokens and switches."""

from __future__ import annotations

from datetime import datetime

import pytest

from helium_secrets import (
    RetryPolicy,
    SecretStore,
    errors,
    open_store,
)
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import (
    UnavailableError,
)
from helium_secrets.testing import ManualClock
from tests.docs.pages import CANARY


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


def test_memory_keyword_wins_over_the_url() -> None:
    with open_store("mem://?max_value_bytes=1024", max_value_bytes=8) as store:
        assert store.backend.capabilities.max_value_bytes == 8


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


def test_memory_honours_request_tokens_and_has_a_cheap_probe() -> None:
    backend = MemoryBackend()
    assert backend.capabilities.idempotent_put and backend.capabilities.version_probe
    first = backend.put("a", "v", expected_version=None, create_only=False,
                        request_token="token-1", metadata=None, labels=())
    again = backend.put("a", "v", expected_version=None, create_only=False,
                        request_token="token-1", metadata=None, labels=())
    assert first.version == again.version == "1"
    assert [v.version for v in backend.list_versions("a")] == ["1"]
    assert backend.current_version("a").version == "1"
