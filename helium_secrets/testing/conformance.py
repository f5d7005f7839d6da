"""The conformance suite every backend passes, built-in or third-party.

Subclass :class:`BackendConformance` in a test module and provide a ``store`` fixture that
yields a fresh :class:`~helium_secrets.SecretStore` on the backend under test::

    from helium_secrets.testing.conformance import BackendConformance

    class TestMyBackend(BackendConformance):
        @pytest.fixture
        def store(self):
            with SecretStore(MyBackend(...)) as store:
                yield store

Every test works under its own random name prefix, so one server can serve a whole module.
Read-only backends set ``read_only = True`` and override :meth:`BackendConformance.seed`;
the write tests are then replaced by one test that writes are refused.
"""

from __future__ import annotations

import json
import pickle
import uuid
from collections.abc import Iterator
from typing import ClassVar

import pytest

from helium_secrets._store import SecretStore
from helium_secrets.errors import (
    ConflictError,
    InvalidNameError,
    ReadOnlyError,
    RotationTestFailed,
    SecretNotFoundError,
    StoreClosedError,
    TooLargeError,
    VersionNotFoundError,
)

__all__ = ["CANARY", "BackendConformance"]

#: A distinctive value the suite writes and then looks for where it must never appear.
CANARY = "canary-7f3a9c-DO-NOT-LEAK"


class BackendConformance:
    """The shared behaviour of every backend. Subclasses provide the ``store`` fixture."""

    #: The backend refuses writes; tests seed values through :meth:`seed`.
    read_only: ClassVar[bool] = False
    #: A version id that is well-formed for the backend but does not exist.
    missing_version: ClassVar[str] = "987654"

    @pytest.fixture
    def store(self) -> Iterator[SecretStore]:
        raise NotImplementedError("a BackendConformance subclass provides the store fixture")

    @pytest.fixture
    def prefix(self) -> str:
        return f"conformance/t{uuid.uuid4().hex[:12]}"

    def seed(self, store: SecretStore, name: str, value: str | bytes) -> str:
        """Give ``name`` a new current version holding ``value``; return its version id."""
        return store.put(name, value).version

    def _writable(self) -> None:
        if self.read_only:
            pytest.skip("the backend is read-only")

    # -- reading and value round-trips ------------------------------------------------------

    def test_text_round_trip(self, store: SecretStore, prefix: str) -> None:
        name = f"{prefix}/text"
        version = self.seed(store, name, "hunter2")
        secret = store.get(name)
        assert secret.value.reveal() == "hunter2"
        assert secret.name == name
        assert secret.version == version

    def test_unicode_round_trip(self, store: SecretStore, prefix: str) -> None:
        name = f"{prefix}/unicode"
        text = "pässwörd-密码-🔑"
        self.seed(store, name, text)
        store.clear_cache()
        assert store.get(name).value.reveal() == text
        assert store.get(name).value.reveal_bytes() == text.encode()

    def test_bytes_round_trip(self, store: SecretStore, prefix: str) -> None:
        if not store.backend.capabilities.binary:
            pytest.skip("the backend stores text only")
        name = f"{prefix}/bytes"
        data = bytes(range(256))
        self.seed(store, name, data)
        store.clear_cache()
        assert store.get(name).value.reveal_bytes() == data

    def test_json_and_field_selector(self, store: SecretStore, prefix: str) -> None:
        name = f"{prefix}/json"
        document = {"user": "app", "password": "s3cret", "hosts": ["a", "b"]}
        self.seed(store, name, json.dumps(document))
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

    def test_version_not_found(self, store: SecretStore, prefix: str) -> None:
        name = f"{prefix}/v"
        self.seed(store, name, "one")
        with pytest.raises(VersionNotFoundError):
            store.get(name, self.missing_version)

    def test_versions_oldest_first(self, store: SecretStore, prefix: str) -> None:
        self._writable()
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
        self._writable()
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

    def test_get_many(self, store: SecretStore, prefix: str) -> None:
        names = [f"{prefix}/many/{i}" for i in range(3)]
        for i, name in enumerate(names):
            self.seed(store, name, f"value-{i}")
        store.clear_cache()
        got = store.get_many(names)
        assert list(got) == names
        assert [s.value.reveal() for s in got.values()] == ["value-0", "value-1", "value-2"]
        missing = f"{prefix}/many/missing"
        with pytest.raises(SecretNotFoundError):
            store.get_many([*names, missing])
        assert list(store.get_many([*names, missing], ignore_missing=True)) == names

    def test_list_by_prefix(self, store: SecretStore, prefix: str) -> None:
        for name in ("a/x", "a/y", "b/z"):
            self.seed(store, f"{prefix}/{name}", "v")
        assert list(store.list(f"{prefix}/a/")) == [f"{prefix}/a/x", f"{prefix}/a/y"]
        assert set(store.list(f"{prefix}/")) == {f"{prefix}/a/x", f"{prefix}/a/y", f"{prefix}/b/z"}

    # -- writing ---------------------------------------------------------------------------

    def test_put_returns_the_written_secret(self, store: SecretStore, prefix: str) -> None:
        self._writable()
        name = f"{prefix}/put"
        written = store.put(name, "v1")
        assert written.name == name
        assert written.value.reveal() == "v1"
        assert store.get(name).version == written.version

    def test_delete(self, store: SecretStore, prefix: str) -> None:
        self._writable()
        name = f"{prefix}/delete"
        store.put(name, "v")
        store.delete(name, purge=True)
        with pytest.raises(SecretNotFoundError):
            store.get(name)
        assert name not in list(store.list(f"{prefix}/"))
        with pytest.raises(SecretNotFoundError):
            store.delete(f"{prefix}/never-existed", purge=True)

    def test_check_and_set(self, store: SecretStore, prefix: str) -> None:
        self._writable()
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
        self._writable()
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

    def test_oversized_value_rejected_before_any_call(self, store: SecretStore, prefix: str) -> None:
        self._writable()
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
        if not self.read_only:
            with pytest.raises(InvalidNameError):
                store.put(bad, CANARY)
        assert store.stats().backend_calls == calls

    def test_read_only_refuses_writes(self, store: SecretStore, prefix: str) -> None:
        if not self.read_only:
            pytest.skip("the backend is writable")
        calls = store.stats().backend_calls
        with pytest.raises(ReadOnlyError):
            store.put(f"{prefix}/x", CANARY)
        with pytest.raises(ReadOnlyError):
            store.delete(f"{prefix}/x")
        assert store.stats().backend_calls == calls

    # -- rotation --------------------------------------------------------------------------

    def test_rotate_is_check_and_set(self, store: SecretStore, prefix: str) -> None:
        self._writable()
        if not store.backend.capabilities.versions:
            pytest.skip("the backend keeps no versions to rotate between")
        name = f"{prefix}/rotate"
        first = store.put(name, "one")
        seen: list[str] = []
        store.on_rotation(name, lambda old, new: seen.append(new.version))
        rotated = store.rotate(name, lambda: "two")
        assert rotated.version != first.version
        assert seen == [rotated.version]
        store.clear_cache()
        assert store.get(name).value.reveal() == "two"

    def test_staged_rotation_promotes(self, store: SecretStore, prefix: str) -> None:
        self._writable()
        if not store.backend.capabilities.staging:
            pytest.skip("the backend has no staged rotation")
        name = f"{prefix}/staged"
        first = store.put(name, "one")
        during: list[str] = []

        def test(pending: object) -> bool:
            during.append(store.refresh(name).value.reveal())  # readers still see "one"
            return True

        promoted = store.rotate_staged(name, lambda: "two", test)
        assert during == ["one"]
        assert promoted.version != first.version
        store.clear_cache()
        current = store.get(name)
        assert (current.version, current.value.reveal()) == (promoted.version, "two")
        assert store.current_version(name) == promoted.version

    def test_staged_rotation_rolls_back(self, store: SecretStore, prefix: str) -> None:
        self._writable()
        if not store.backend.capabilities.staging:
            pytest.skip("the backend has no staged rotation")
        name = f"{prefix}/rollback"
        first = store.put(name, "one")
        with pytest.raises(RotationTestFailed):
            store.rotate_staged(name, lambda: "two", lambda pending: False)
        store.clear_cache()
        current = store.get(name)
        assert (current.version, current.value.reveal()) == (first.version, "one")
        assert store.current_version(name) == first.version
        # The next rotation is not blocked by the discarded one.
        assert store.rotate_staged(name, lambda: "three", lambda p: True).value.reveal() == "three"

    # -- the value never shows -------------------------------------------------------------

    def test_value_never_in_reprs_or_errors(self, store: SecretStore, prefix: str) -> None:
        name = f"{prefix}/canary"
        self.seed(store, name, CANARY)
        secret = store.get(name)
        shown = [repr(secret), str(secret), repr(secret.value), str(secret.value),
                 f"{secret.value}", f"{secret}", repr(store)]
        assert all(CANARY not in text for text in shown)
        with pytest.raises(TypeError) as pickled:
            pickle.dumps(secret)
        assert CANARY not in str(pickled.value)
        with pytest.raises(ValueError, match="not valid JSON") as not_json:
            store.get_json(name)
        assert CANARY not in str(not_json.value)
        if not self.read_only and store.backend.capabilities.check_and_set:
            with pytest.raises(ConflictError) as conflict:
                store.put(name, CANARY, expected_version=self.missing_version)
            assert CANARY not in str(conflict.value)
            assert CANARY not in repr(conflict.value)

    def test_closed_store_refuses_calls(self, store: SecretStore, prefix: str) -> None:
        name = f"{prefix}/closed"
        self.seed(store, name, "v")
        store.get(name)
        store.close()
        with pytest.raises(StoreClosedError):
            store.get(name)
        with pytest.raises(StoreClosedError):
            list(store.list(prefix))
