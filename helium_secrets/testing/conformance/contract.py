"""Conformance cases: the portable contract (deletion, retry safety, listener ordering),
which never skip for a missing capability."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from helium_secrets._store import SecretStore
from helium_secrets._values import Secret
from helium_secrets.errors import (
    ConflictError,
    HeliumError,
    ReadOnlyError,
    SecretNotFoundError,
    UnsupportedError,
)
from helium_secrets.testing.conformance._base import CANARY, QUICK_RETRY, ConformanceBase
from helium_secrets.testing.harness import BackendHarness

#: Seconds a thread of the concurrency cases may take: generous, for a slow shared machine.
_JOIN_TIMEOUT = 300.0


class ContractCases(ConformanceBase):
    """The portable contract: it holds on every backend; a read-only one refuses the writes."""

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
