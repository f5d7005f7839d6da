"""The conformance suite every backend passes, built-in or third-party.

Subclass :class:`BackendConformance` in a test module and provide a ``harness`` fixture that
yields a :class:`~helium_secrets.testing.BackendHarness` for the backend under test::

    import pytest
    from helium_secrets.testing import BackendHarness
    from helium_secrets.testing.conformance import BackendConformance

    class MyHarness(BackendHarness):
        def make_backend(self):
            return MyBackend(...)

    class TestMyBackend(BackendConformance):
        @pytest.fixture
        def harness(self):
            with MyHarness() as harness:
                yield harness

Every test works under its own random name prefix, so one server can serve a whole module.

Two kinds of cases:

* ``test_contract_*``, **the portable contract**: deletion, retry safety and listener ordering.
  They hold on every backend and never skip for a missing capability; on a read-only backend
  they check that the write is refused before any call. (The one exception: a case that needs
  a fault the harness cannot inject says so in its skip reason.)
* the others: what a backend declares it lacks (``capabilities``: versions, labels,
  check-and-set, staging, ...) or a fault its harness cannot inject is a skip with the reason.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import threading
import uuid
from collections.abc import Callable, Iterator

import pytest

from helium_secrets import redaction
from helium_secrets._store import SecretStore
from helium_secrets._values import Secret
from helium_secrets.errors import (
    ConflictError,
    HeliumError,
    InvalidArgumentError,
    InvalidNameError,
    PermissionDeniedError,
    ReadOnlyError,
    RotationTestFailed,
    SecretNotFoundError,
    StoreClosedError,
    ThrottledError,
    TooLargeError,
    UnavailableError,
    UnsupportedError,
    VersionNotFoundError,
)
from helium_secrets.layers.guard import GuardPolicy
from helium_secrets.layers.retry import RetryPolicy
from helium_secrets.testing.harness import BackendHarness

__all__ = ["CANARY", "BackendConformance", "debug_logs", "plaintext_in_frames"]

#: A distinctive value the suite writes and then looks for where it must never appear.
CANARY = "canary-7f3a9c-DO-NOT-LEAK"

#: Retries without waiting, for the cases that inject faults.
QUICK_RETRY = RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0, deadline=120.0)

#: The error each fault kind that fails a call surfaces as, once retries are spent.
_FAULT_ERRORS: dict[str, type[HeliumError]] = {
    "unavailable": UnavailableError,
    "throttled": ThrottledError,
}

#: Seconds a thread of the concurrency cases may take: generous, for a slow shared machine.
_JOIN_TIMEOUT = 300.0


class BackendConformance:
    """The shared behaviour of every backend. Subclasses provide the ``harness`` fixture."""

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

    # -- rotation --------------------------------------------------------------------------

    def test_rotate_is_check_and_set(self, store: SecretStore, prefix: str) -> None:
        self._writable(store)
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

    @staticmethod
    def _stages(store: SecretStore) -> None:
        caps = store.backend.capabilities
        if not (caps.staging or caps.staging_companion):
            pytest.skip("the backend has no staged rotation, native or by a companion")

    def test_staged_rotation_promotes(self, store: SecretStore, prefix: str) -> None:
        self._writable(store)
        self._stages(store)
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
        self._writable(store)
        self._stages(store)
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

    def test_value_never_in_reprs_or_errors(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        name = f"{prefix}/canary"
        self.seed(harness, store, name, CANARY)
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
        if not store.backend.capabilities.read_only and store.backend.capabilities.check_and_set:
            with pytest.raises(ConflictError) as conflict:
                store.put(name, CANARY, expected_version=harness.missing_version)
            assert CANARY not in str(conflict.value)
            assert CANARY not in repr(conflict.value)

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

    # -- the portable contract: deletion (never skipped) -------------------------------------

    @staticmethod
    def _refused(store: SecretStore, write: Callable[[], object]) -> bool:
        """On a read-only backend, check that ``write`` is refused before any call."""
        if not store.backend.capabilities.read_only:
            return False
        calls = store.stats().backend_calls
        with pytest.raises(ReadOnlyError):
            write()
        assert store.stats().backend_calls == calls
        return True

    def test_contract_read_after_delete_is_not_found(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        name = f"{prefix}/contract/deleted"
        self.seed(harness, store, name, CANARY)
        store.get(name)  # cached: the delete must drop it
        if self._refused(store, lambda: store.delete(name)):
            return
        store.delete(name)  # no purge: where the service keeps it recoverable, it does
        reads: list[Callable[[], object]] = [
            lambda: store.get(name),
            lambda: store.refresh(name),
            lambda: store.current_version(name),
            lambda: store.get_many([name]),
            lambda: harness.make_store().get(name),  # a client that never read it
        ]
        for read in reads:
            with pytest.raises(SecretNotFoundError) as info:
                read()
            assert CANARY not in str(info.value)
        assert store.get_many([name], ignore_missing=True) == {}
        assert name not in list(store.list(f"{prefix}/"))

    def test_contract_delete_with_a_lost_answer_succeeds(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        name = f"{prefix}/contract/lost-delete"
        self.seed(harness, store, name, "v")
        if self._refused(store, lambda: store.delete(name)):
            return
        self._require_fault(harness, "lost_answer")
        deleter = harness.make_store(retry=QUICK_RETRY)
        with harness.fault("lost_answer", "delete"):
            deleter.delete(name)  # retried; the retry finds it gone, which is success
        with pytest.raises(SecretNotFoundError):
            store.get(name)

    def test_contract_write_after_delete_works_or_conflicts(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        name = f"{prefix}/contract/rewritten"
        if self._refused(store, lambda: store.put(name, "one")):
            return
        store.put(name, "one")
        store.delete(name)
        try:
            again = store.put(name, "two")
        except ConflictError:  # the service keeps the deleted secret recoverable
            with pytest.raises(SecretNotFoundError):
                store.get(name)
            return
        assert (store.get(name).version, store.get(name).value.reveal()) == (again.version, "two")
        assert harness.make_store().get(name).value.reveal() == "two"

    # -- the portable contract: retry safety (never skipped for a capability) ------------

    def test_contract_put_with_a_lost_answer_makes_one_version(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        name = f"{prefix}/contract/lost-put"
        if self._refused(store, lambda: store.put(name, "zero")):
            return
        self._require_fault(harness, "lost_answer")
        writer = harness.make_store(retry=QUICK_RETRY, cache=None)
        writer.put(name, "zero")
        before = len(writer.versions(name))
        written: Secret | None = None
        error: HeliumError | None = None
        with harness.fault("lost_answer", "put"):
            try:
                written = writer.put(name, "one")
            except HeliumError as exc:
                error = exc
        if error is not None:
            # Without idempotency tokens a plain put is not retried: its outcome is unknown,
            # and the error says so by being transient.
            assert not writer.backend.capabilities.idempotent_put, "a put with tokens is retried"
            assert error.transient
        current = writer.get(name)
        versions = [v.version for v in writer.versions(name)]
        assert len(versions) <= before + 1, "the lost put was written twice"
        if written is None:
            assert current.value.reveal() in ("zero", "one")
            return
        assert (current.version, current.value.reveal()) == (written.version, "one")
        if writer.backend.capabilities.versions:
            assert versions[-1] == written.version
            assert len(versions) == before + 1

    @pytest.mark.parametrize("guard", ["expected_version", "create_only"])
    def test_contract_guarded_put_with_a_lost_answer_succeeds_once(
        self, harness: BackendHarness, store: SecretStore, prefix: str, guard: str
    ) -> None:
        name = f"{prefix}/contract/lost-{guard.replace('_', '-')}"
        if self._refused(store, lambda: store.put(name, "zero")):
            return
        self._require_fault(harness, "lost_answer")
        writer = harness.make_store(retry=QUICK_RETRY, cache=None)
        before = 0
        options: dict[str, object] = {"create_only": True}
        if guard == "expected_version":
            options = {"expected_version": writer.put(name, "zero").version}
            before = len(writer.versions(name))
        try:
            with harness.fault("lost_answer", "put"):
                # Retried as check-and-set, the put conflicts with itself; the store sees that
                # its own value won and reports the success.
                written = writer.put(name, "one", **options)  # type: ignore[arg-type]
        except UnsupportedError:  # the backend refuses the guard itself: nothing was written
            assert before == 0 or len(writer.versions(name)) == before
            return
        current = writer.get(name)
        assert (current.version, current.value.reveal()) == (written.version, "one")
        if writer.backend.capabilities.versions:
            assert len(writer.versions(name)) == before + 1

    # -- the portable contract: listener ordering (never skipped) -----------------------------

    def test_contract_listeners_never_go_backwards(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        name = f"{prefix}/contract/ordering"
        self.seed(harness, store, name, "start")
        pairs: list[tuple[str | None, str]] = []
        lock = threading.Lock()

        def record(old: Secret | None, new: Secret) -> None:
            with lock:
                pairs.append((old.version if old is not None else None, new.version))

        store.on_rotation(name, record)
        read_only = store.backend.capabilities.read_only

        def writer(w: int) -> None:
            for i in range(8):
                try:
                    if read_only:
                        harness.write_external(name, f"w{w}-{i}")
                    else:
                        store.put(name, f"w{w}-{i}")
                except ConflictError:
                    pass  # plain puts that conflict are another case's defect; here listeners are

        def reader() -> None:
            for i in range(16):
                store.refresh(name) if i % 2 else store.get(name)

        self._run_together(*(lambda w=w: writer(w) for w in range(3)), reader, reader, reader)
        final = store.refresh(name)
        replaced: set[str] = set()
        backwards = []
        for old, new in pairs:
            if new in replaced:
                backwards.append((old, new))
            if old is not None:
                replaced.add(old)
        assert not backwards, (
            f"{len(backwards)} of {len(pairs)} callbacks announced as new a version already "
            f"replaced (old, new): {backwards[:5]}"
        )
        if pairs:
            assert pairs[-1][1] == final.version, "the listener's last word is not the current version"

    @staticmethod
    def _run_together(*jobs: Callable[[], object]) -> None:
        """Run ``jobs`` on threads that start at once; re-raise the first error."""
        barrier = threading.Barrier(len(jobs))
        errors: list[BaseException] = []

        def run(job: Callable[[], object]) -> None:
            try:
                barrier.wait(_JOIN_TIMEOUT)
                job()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=run, args=(job,), daemon=True) for job in jobs]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(_JOIN_TIMEOUT)
        assert not any(thread.is_alive() for thread in threads), "a thread never finished"
        if errors:
            raise errors[0]

    # -- writes from outside and injected faults ---------------------------------------------

    def test_a_rotation_from_outside_is_noticed(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        name = f"{prefix}/outside"
        first = self.seed(harness, store, name, "one")
        seen: list[tuple[str | None, str, str]] = []
        store.on_rotation(name, lambda old, new: seen.append(
            (old.version if old is not None else None, new.version, new.value.reveal())))
        second = harness.write_external(name, "two")
        assert store.refresh(name).value.reveal() == "two"
        if not store.backend.capabilities.versions:
            return  # a new value is not a new version: nothing to announce
        assert seen == [(first, second, "two")]
        third = harness.write_external(name, "three")
        store.rotation.poll_once()  # what the background poller does
        assert seen[1:] == [(second, third, "three")]
        assert store.get(name).value.reveal() == "three"

    @pytest.mark.parametrize("kind", sorted(_FAULT_ERRORS))
    def test_a_transient_fault_is_retried(
        self, harness: BackendHarness, store: SecretStore, prefix: str, kind: str
    ) -> None:
        self._require_fault(harness, kind)
        name = f"{prefix}/fault-{kind}"
        self.seed(harness, store, name, "v")
        reader = harness.make_store(retry=QUICK_RETRY, cache=None)
        with harness.fault(kind, "get"):
            assert reader.get(name).value.reveal() == "v"
        assert reader.stats().retries == 1

    @pytest.mark.parametrize("kind", sorted(_FAULT_ERRORS))
    def test_a_lasting_fault_surfaces_as_its_error(
        self, harness: BackendHarness, store: SecretStore, prefix: str, kind: str
    ) -> None:
        self._require_fault(harness, kind)
        name = f"{prefix}/lasting-{kind}"
        self.seed(harness, store, name, CANARY)
        reader = harness.make_store(retry=QUICK_RETRY.replace(max_attempts=2), cache=None)
        with harness.fault(kind, "get", count=2), pytest.raises(_FAULT_ERRORS[kind]) as info:
            reader.get(name)
        assert info.value.transient
        assert (info.value.backend, info.value.name) == (reader.backend.name, name)
        assert CANARY not in str(info.value)
        assert CANARY not in repr(info.value)

    # -- the redaction filter ----------------------------------------------------------------

    def test_debug_logs_show_no_value(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        """Every logger at DEBUG (the SDK's included) with the redaction filter installed:
        no value in any record, for each operation, first reads included (an SDK logs the
        response body before the store has seen the value)."""
        name, other = f"{prefix}/logged", f"{prefix}/logged-2"
        outside = harness.write_external(name, CANARY + "-outside")
        caps = store.backend.capabilities
        with debug_logs() as texts:
            read = store.get(name).value.reveal()
            assert read == CANARY + "-outside"
            # An application that logs a value by mistake: the cached value is masked too.
            logging.getLogger("app").debug("connecting with %r", {"password": read})
            if not caps.read_only:
                store.put(other, CANARY + "-put")
                assert len(store.get_many([name, other])) == 2
                if caps.versions:
                    assert store.get(name, outside).value.reveal() == CANARY + "-outside"
                    store.versions(name)
                store.rotate(other, lambda: CANARY + "-rotated")
            store.refresh(name)
            with pytest.raises(VersionNotFoundError):
                store.get(name, harness.missing_version)
            store.clear_cache()
            store.get_many([name])
        assert any(text.startswith("app ") for text in texts), "the records were captured"
        # Only the leaking loggers' names are shown: a failure message never shows a value.
        leaking = sorted({text.split(" ", 1)[0] for text in texts if "canary-7f3a9c" in text})
        assert leaking == [], "records of these loggers show a value"

    def test_error_frames_hold_no_value(
        self, harness: BackendHarness, store: SecretStore, prefix: str
    ) -> None:
        """An error reporter captures the locals of the frames an error went through: the
        store's and the backend's hold no value the failing call did not need."""
        name, doc = f"{prefix}/framed", f"{prefix}/framed-json"
        caps = store.backend.capabilities
        for i in range(2 if caps.versions and not caps.read_only else 1):
            self.seed(harness, store, name, f"{CANARY}-{i}")
        self.seed(harness, store, doc, json.dumps({"password": CANARY}))
        store.clear_cache()
        failing: list[Callable[[], object]] = [
            lambda: store.get(name, harness.missing_version),
            lambda: store.get_json(name),
            lambda: store.get_json(doc, "user"),
            lambda: store.get_json(doc, "password.0"),
            lambda: store.get_many([name, doc, f"{prefix}/framed-missing"]),
        ]
        if not caps.read_only:
            failing.append(lambda: store.put(name, "new", create_only=True))
            if caps.check_and_set:
                failing.append(lambda: store.put(name, "new", expected_version="0"))
            if caps.labels:
                failing.append(lambda: store.set_label(name, "blue", harness.missing_version))
        places = []
        for call in failing:
            with pytest.raises(HeliumError) as info:
                call()
            places += [f"{type(info.value).__name__} in {place}"
                       for place in plaintext_in_frames(info.value, CANARY)]
        assert not places, "plaintext in frame locals: " + "; ".join(places)

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
        from helium_secrets.errors import UnsupportedError

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


    # -- check-and-set and rotate() around a staged rotation -----------------------------------

    def test_check_and_set_while_a_version_is_staged(self, store: SecretStore, prefix: str) -> None:
        self._writable(store)
        self._stages(store)
        name = f"{prefix}/cas-staged"
        first = store.put(name, "one")
        outcomes: list[str] = []

        def test(pending: Secret) -> bool:
            # Run inside the test of the staged rotation, while its version is pending; the
            # outcomes are checked outside (a failing assert here would read as a failed test).
            try:
                store.put(name, "not-current", expected_version=pending.version)
                outcomes.append("the pending version passed for the current one")
            except ConflictError:
                outcomes.append("refused")
            rotated = store.rotate(name, lambda: "two")  # check-and-set against the current one
            outcomes.append(store.put(name, "three", expected_version=rotated.version).version)
            return False  # roll back: the pending version was never current

        with pytest.raises(RotationTestFailed):
            store.rotate_staged(name, lambda: "staged", test)
        assert outcomes[0] == "refused"
        store.clear_cache()
        current = store.get(name)
        assert (current.version, current.value.reveal()) == (outcomes[1], "three")
        assert first.version != current.version

    def test_rotate_after_a_rolled_back_staged_rotation(
        self, store: SecretStore, prefix: str
    ) -> None:
        self._writable(store)
        self._stages(store)
        name = f"{prefix}/rotate-after-rollback"
        first = store.put(name, "one")
        with pytest.raises(RotationTestFailed):
            store.rotate_staged(name, lambda: "discarded", lambda pending: False)
        # The discarded version is not the current one: check-and-set and rotate() go on
        # from the version that stayed current.
        second = store.put(name, "two", expected_version=first.version)
        rotated = store.rotate(name, lambda: "three")
        assert rotated.version != second.version
        store.clear_cache()
        current = store.get(name)
        assert (current.version, current.value.reveal()) == (rotated.version, "three")
        assert store.rotate(name, lambda: "four").value.reveal() == "four"

    # -- ignore_missing leaves out what does not exist, nothing else ------------------------------

    @pytest.mark.parametrize("error", [PermissionDeniedError, UnavailableError, ConflictError],
                             ids=["denied", "unavailable", "conflict"])
    def test_get_many_ignore_missing_raises_any_other_error(
        self, harness: BackendHarness, store: SecretStore, prefix: str, error: type[HeliumError]
    ) -> None:
        # Batched where the backend declares a batch get, one read per name otherwise.
        names = [f"{prefix}/ignore/{i}" for i in range(3)]
        for name in names:
            self.seed(harness, store, name, "v")
        missing, failing = f"{prefix}/ignore/missing", names[1]
        # No fail-fast guard: the injected failures must not pause the clean read after them.
        reader = harness.make_store(retry=QUICK_RETRY, cache=None, guard=GuardPolicy(threshold=0))
        with harness.failing_reads(failing, error):
            with pytest.raises(error) as info:
                reader.get_many([*names, missing], ignore_missing=True)
            assert info.value.name == failing
            with pytest.raises(error):
                reader.get_many([failing], ignore_missing=True)
        got = reader.get_many([*names, missing], ignore_missing=True)
        assert list(got) == names


#: The SDKs' loggers, whose levels :func:`debug_logs` sets to DEBUG too.
SDK_LOGGERS = ("botocore", "boto3", "urllib3", "azure", "google", "grpc", "hvac", "httpx")


@contextlib.contextmanager
def debug_logs(*, redact: bool = True) -> Iterator[list[str]]:
    """Capture every log record, at DEBUG on every logger, as the text a handler writes
    (message, exception and stack); with the redaction filter installed unless ``redact``
    is false. The list fills as records come and is complete on exit."""
    root = logging.getLogger()
    texts: list[str] = []
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            texts.append(formatter.format(record))

    handler = Capture(logging.DEBUG)
    loggers = [root, *(logging.getLogger(n) for n in SDK_LOGGERS)]
    levels = [logger.level for logger in loggers]
    root.addHandler(handler)
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    if redact:
        redaction.install()
    try:
        yield texts
    finally:
        if redact:
            redaction.uninstall()
        root.removeHandler(handler)
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_TESTING = os.path.join(_PACKAGE, "testing")


def plaintext_in_frames(error: BaseException, canary: str) -> list[str]:
    """Where ``canary`` shows in the locals of ``error``'s traceback frames that run
    helium-secrets code (its ``testing`` package aside), ``__cause__`` and ``__context__``
    included: in a local, inside containers, or in an object's ``repr``, as an error reporter
    would capture them. Returns ``"function: local"`` for each place."""
    found: list[str] = []
    seen: set[int] = set()
    chain: BaseException | None = error
    while chain is not None and id(chain) not in seen:
        seen.add(id(chain))
        tb = chain.__traceback__
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_filename.startswith(_PACKAGE) and not code.co_filename.startswith(
                    _TESTING):
                for local, value in tb.tb_frame.f_locals.items():
                    if _shows(value, canary, 0, set()):
                        found.append(f"{code.co_name}: {local}")
            tb = tb.tb_next
        chain = chain.__cause__ or chain.__context__
    return found


def _shows(value: object, canary: str, depth: int, seen: set[int]) -> bool:
    if isinstance(value, str):
        return canary in value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return canary.encode() in bytes(value)
    if depth > 6 or id(value) in seen:
        return False
    seen.add(id(value))
    if isinstance(value, dict):
        return any(_shows(k, canary, depth + 1, seen) or _shows(v, canary, depth + 1, seen)
                   for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_shows(v, canary, depth + 1, seen) for v in value)
    try:
        return canary in repr(value)
    except Exception:
        return False
