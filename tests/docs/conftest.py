"""Fixtures of the docs tests: a fresh fake per test, and a registry that forgets the schemes a
test registers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from helium_secrets import PollPolicy, SecretStore
from helium_secrets.backends.memory import MemoryBackend


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
