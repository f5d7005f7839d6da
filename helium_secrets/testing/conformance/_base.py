"""What every group of conformance cases shares: the fixtures, the canary, and the helpers
that skip a case a backend cannot run."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from helium_secrets._store import SecretStore
from helium_secrets.layers.retry import RetryPolicy
from helium_secrets.testing.harness import BackendHarness

#: A distinctive value the suite writes and then looks for where it must never appear.
CANARY = "canary-7f3a9c-DO-NOT-LEAK"

#: Retries without waiting, for the cases that inject faults.
QUICK_RETRY = RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0, deadline=120.0)


class ConformanceBase:
    """The fixtures and helpers of the case groups; :class:`BackendConformance` combines
    the groups, and its subclasses provide the ``harness`` fixture."""

    @pytest.fixture
    def harness(self) -> Iterator[BackendHarness]:
        raise NotImplementedError("a BackendConformance subclass provides the harness fixture")

    @pytest.fixture
    def store(self, harness: BackendHarness) -> SecretStore:
        return harness.make_store()

    @pytest.fixture
    def prefix(self) -> str:
        return f"conformance/t{uuid.uuid4().hex[:12]}"

    @staticmethod
    def seed(harness: BackendHarness, store: SecretStore, name: str, value: str | bytes) -> str:
        """Give ``name`` a new current version holding ``value``; return its version id."""
        if store.backend.capabilities.read_only:
            return harness.write_external(name, value)
        return store.put(name, value).version

    @staticmethod
    def _writable(store: SecretStore) -> None:
        if store.backend.capabilities.read_only:
            pytest.skip("the backend is read-only")

    @staticmethod
    def _require_fault(harness: BackendHarness, kind: str) -> None:
        if not harness.supports(kind):
            pytest.skip(f"{type(harness).__name__} cannot inject {kind!r} faults")
