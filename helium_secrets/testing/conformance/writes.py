"""Conformance cases: writing, check-and-set, the checks made before any call, put_json
and describe."""

from __future__ import annotations

import json
import uuid

import pytest

from helium_secrets._store import SecretStore
from helium_secrets.errors import (
    ConflictError,
    InvalidArgumentError,
    InvalidNameError,
    ReadOnlyError,
    SecretNotFoundError,
    TooLargeError,
    UnsupportedError,
)
from helium_secrets.testing.conformance._base import CANARY, ConformanceBase
from helium_secrets.testing.harness import BackendHarness


class WriteCases(ConformanceBase):
    """Writes: put, delete, check-and-set, size and name checks, read-only refusal, put_json."""

    # -- writing ---------------------------------------------------------------------------

    def test_put_returns_the_written_secret(self, store: SecretStore, prefix: str) -> None:
        self._writable(store)
        name = f"{prefix}/put"
        written = store.put(name, "v1")
        assert written.name == name
        assert written.value.reveal() == "v1"
        assert store.get(name).version == written.version

    def test_delete(self, store: SecretStore, prefix: str) -> None:
        self._writable(store)
        name = f"{prefix}/delete"
        store.put(name, "v")
        store.delete(name, purge=True)
        with pytest.raises(SecretNotFoundError):
            store.get(name)
        assert name not in list(store.list(f"{prefix}/"))
        with pytest.raises(SecretNotFoundError):
            store.delete(f"{prefix}/never-existed", purge=True)

    def test_check_and_set(self, store: SecretStore, prefix: str) -> None:
        self._writable(store)
        if not store.backend.capabilities.check_and_set:
            pytest.skip("the backend has no check-and-set")
        name = f"{prefix}/cas"
        first = store.put(name, "one")
        second = store.put(name, "two", expected_version=first.version)
        with pytest.raises(ConflictError):
            store.put(name, "three", expected_version=first.version)
        store.clear_cache()
        assert store.get(name).version == second.version
        assert store.get(name).value.reveal() == "two"
        with pytest.raises(ConflictError):
            store.put(name, "four", create_only=True)
        assert store.put(f"{prefix}/cas-new", "new", create_only=True).value.reveal() == "new"

    def test_retried_write_does_not_duplicate(self, store: SecretStore, prefix: str) -> None:
        self._writable(store)
        if not store.backend.capabilities.idempotent_put:
            pytest.skip("the backend has no idempotency tokens; the store does not retry blind puts")
        if not store.backend.capabilities.versions:
            pytest.skip("the backend keeps no versions to count")
        name = f"{prefix}/idempotent"
        store.put(name, "zero")
        before = len(store.versions(name))
        token = uuid.uuid4().hex
        first = store.backend.put(name, "one", request_token=token)
        again = store.backend.put(name, "one", request_token=token)
        assert again.version == first.version
        assert len(store.versions(name)) == before + 1

    def test_oversized_value_rejected_before_any_call(
        self, store: SecretStore, prefix: str
    ) -> None:
        self._writable(store)
        limit = store.backend.capabilities.max_value_bytes
        if limit is None:
            pytest.skip("the backend declares no size limit")
        calls = store.stats().backend_calls
        with pytest.raises(TooLargeError):
            store.put(f"{prefix}/big", "x" * (limit + 1))
        with pytest.raises(TooLargeError):
            store.put(f"{prefix}/big", "é" * (limit // 2 + 1))  # counted in bytes, not chars
        assert store.stats().backend_calls == calls

    @pytest.mark.parametrize("bad", ["", "/lead", "trail/", "a//b", "a/../b", "a b", "tab\tx"])
    def test_invalid_name_rejected_before_any_call(self, store: SecretStore, bad: str) -> None:
        calls = store.stats().backend_calls
        with pytest.raises(InvalidNameError):
            store.get(bad)
        if not store.backend.capabilities.read_only:
            with pytest.raises(InvalidNameError):
                store.put(bad, CANARY)
        assert store.stats().backend_calls == calls

    def test_read_only_refuses_writes(self, store: SecretStore, prefix: str) -> None:
        if not store.backend.capabilities.read_only:
            pytest.skip("the backend is writable")
        calls = store.stats().backend_calls
        with pytest.raises(ReadOnlyError):
            store.put(f"{prefix}/x", CANARY)
        with pytest.raises(ReadOnlyError):
            store.delete(f"{prefix}/x")
        assert store.stats().backend_calls == calls

    # -- put_json (issue 13) ----------------------------------------------------------------

    @pytest.mark.parametrize("document", [
        {"user": "app", "password": CANARY, "port": 5432, "tags": ["a", "b"]},
        {"value": CANARY},  # the key Vault's plain values use
        [1, "two", None],
        "text",
    ], ids=["object", "value-key", "list", "string"])
    def test_put_json_round_trips_with_get_json(
        self, store: SecretStore, prefix: str, document: object
    ) -> None:
        self._writable(store)
        name = f"{prefix}/put-json"
        written = store.put_json(name, document)
        store.clear_cache()
        assert store.get_json(name) == document
        # The same text on every backend: compact, keys sorted.
        assert store.get(name).value.reveal() == json.dumps(
            document, separators=(",", ":"), sort_keys=True)
        assert store.get(name).version == written.version
        with pytest.raises(InvalidArgumentError, match="not a document with a set") as info:
            store.put_json(name, {"k": {CANARY}})
        assert CANARY not in str(info.value)

    def test_describe_agrees_with_the_reads(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        """Where the backend describes secrets (``store.describe``): the lifecycle names the
        version the reads call current, orders its dates, never holds the value, and a missing
        secret is not found."""

        if "describe" not in dir(store.extras):
            pytest.skip("the backend cannot describe secrets")
        name = f"{prefix}/described"
        self.seed(harness, store, name, CANARY)
        second = self.seed(harness, store, name, CANARY + "-2")
        try:
            lifecycle = store.describe(name)
        except UnsupportedError as exc:  # a mode of the backend without it (Vault KV v1)
            pytest.skip(str(exc))
        assert lifecycle.name == name
        assert CANARY not in repr(lifecycle)
        if "current_version" in lifecycle.fields:
            assert lifecycle.current_version == store.current_version(name) == second
        if "versions" in lifecycle.fields and store.backend.capabilities.versions:
            assert (lifecycle.versions or 0) >= 2
        if lifecycle.created_at is not None and lifecycle.updated_at is not None:
            assert lifecycle.created_at <= lifecycle.updated_at
        with pytest.raises(SecretNotFoundError):
            store.describe(f"{prefix}/missing")
