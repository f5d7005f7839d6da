"""Conformance cases: reading, value round-trips, listing, and a closed store."""

from __future__ import annotations

import json

import pytest

from helium_secrets._store import SecretStore
from helium_secrets.errors import SecretNotFoundError, StoreClosedError, VersionNotFoundError
from helium_secrets.testing.conformance._base import ConformanceBase
from helium_secrets.testing.harness import BackendHarness


class ReadCases(ConformanceBase):
    """Reads: round-trips of text, bytes and JSON, versions, labels, batches and listing."""

    # -- reading and value round-trips ------------------------------------------------------

    def test_text_round_trip(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        name = f"{prefix}/text"
        version = self.seed(harness, store, name, "hunter2")
        secret = store.get(name)
        assert secret.value.reveal() == "hunter2"
        assert secret.name == name
        assert secret.version == version

    def test_unicode_round_trip(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        name = f"{prefix}/unicode"
        text = "pässwörd-密码-🔑"
        self.seed(harness, store, name, text)
        store.clear_cache()
        assert store.get(name).value.reveal() == text
        assert store.get(name).value.reveal_bytes() == text.encode()

    def test_bytes_round_trip(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        if not store.backend.capabilities.binary:
            pytest.skip("the backend stores text only")
        name = f"{prefix}/bytes"
        data = bytes(range(256))
        self.seed(harness, store, name, data)
        store.clear_cache()
        assert store.get(name).value.reveal_bytes() == data

    def test_json_and_field_selector(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        name = f"{prefix}/json"
        document = {"user": "app", "password": "s3cret", "hosts": ["a", "b"]}
        self.seed(harness, store, name, json.dumps(document))
        store.clear_cache()
        assert store.get_json(name) == document
        assert store.get_json(name, "password") == "s3cret"
        assert store.get_json(name, "hosts.1") == "b"

    def test_not_found(self, store: SecretStore, prefix: str) -> None:
        with pytest.raises(SecretNotFoundError) as info:
            store.get(f"{prefix}/missing")
        assert type(info.value) is SecretNotFoundError
        assert info.value.name == f"{prefix}/missing"
        assert info.value.backend == store.backend.name
        assert not info.value.transient

    def test_version_not_found(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        name = f"{prefix}/v"
        self.seed(harness, store, name, "one")
        with pytest.raises(VersionNotFoundError):
            store.get(name, harness.missing_version)

    def test_versions_oldest_first(self, store: SecretStore, prefix: str) -> None:
        self._writable(store)
        if not store.backend.capabilities.versions:
            pytest.skip("the backend keeps no versions")
        name = f"{prefix}/versions"
        first = store.put(name, "one")
        second = store.put(name, "two")
        assert first.version != second.version
        listed = [v.version for v in store.versions(name)]
        assert listed.index(first.version) < listed.index(second.version)
        assert listed[-1] == second.version
        assert store.get(name).value.reveal() == "two"
        assert store.get(name, first.version).value.reveal() == "one"
        assert store.current_version(name) == second.version

    def test_labels_move_with_writes(self, store: SecretStore, prefix: str) -> None:
        self._writable(store)
        if not store.backend.capabilities.labels:
            pytest.skip("the backend has no labels")
        name = f"{prefix}/labels"
        first = store.put(name, "one", labels=["blue"])
        assert store.get(name, label="blue").version == first.version
        second = store.put(name, "two", labels=["blue"])
        assert store.get(name, label="blue").version == second.version
        store.set_label(name, "green", first.version)
        assert store.get(name, label="green").value.reveal() == "one"
        labels = {v.version: v.labels for v in store.versions(name)}
        assert "green" in labels[first.version]
        assert "blue" in labels[second.version]

    def test_get_many(self, harness: BackendHarness, store: SecretStore, prefix: str) -> None:
        names = [f"{prefix}/many/{i}" for i in range(3)]
        for i, name in enumerate(names):
            self.seed(harness, store, name, f"value-{i}")
        store.clear_cache()
        got = store.get_many(names)
        assert list(got) == names
        assert [s.value.reveal() for s in got.values()] == ["value-0", "value-1", "value-2"]
        missing = f"{prefix}/many/missing"
        with pytest.raises(SecretNotFoundError):
            store.get_many([*names, missing])
        assert list(store.get_many([*names, missing], ignore_missing=True)) == names

    def test_list_by_prefix(self, harness: BackendHarness, store: SecretStore, prefix: str) -> None:
        for name in ("a/x", "a/y", "b/z"):
            self.seed(harness, store, f"{prefix}/{name}", "v")
        assert list(store.list(f"{prefix}/a/")) == [f"{prefix}/a/x", f"{prefix}/a/y"]
        assert set(store.list(f"{prefix}/")) == {f"{prefix}/a/x", f"{prefix}/a/y", f"{prefix}/b/z"}

    def test_closed_store_refuses_calls(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        name = f"{prefix}/closed"
        self.seed(harness, store, name, "v")
        store.get(name)
        store.close()
        with pytest.raises(StoreClosedError):
            store.get(name)
        with pytest.raises(StoreClosedError):
            list(store.list(prefix))
