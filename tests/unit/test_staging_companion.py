"""Staged rotation by a companion secret: the write path's emulation for a backend without
native staging (Vault KV v2 and Azure Key Vault use it), on the memory fake with its own
staging switched off and a companion declared."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from helium_secrets import AuditEvent, GuardPolicy, PollPolicy, RetryPolicy, Secret, SecretStore
from helium_secrets._writes import PENDING, STAGED_BY, STAGED_FOR
from helium_secrets.backends._base import RawSecret
from helium_secrets.errors import (
    ConflictError,
    InvalidNameError,
    RotationTestFailed,
    SecretNotFoundError,
)
from tests.unit.clock import TIMEOUT, ControlledBackend, ManualClock, canary

SUFFIX = "~staged"


class CompanionBackend(ControlledBackend):
    """The fake without native staging: it reserves ``NAME~staged`` for a staged value."""

    def __init__(self, clock: ManualClock, *, sequential_versions: bool = True,
                 check_and_set: bool = True) -> None:
        super().__init__(clock)
        self.capabilities = dataclasses.replace(
            self.capabilities, staging=False, staging_companion=True,
            sequential_versions=sequential_versions, check_and_set=check_and_set)

    def staging_companion(self, name: str) -> str:
        if len(name) > 20:
            raise InvalidNameError("no room for the companion")
        return name + SUFFIX

    def list_names(self, prefix: str = "") -> Iterator[str]:
        return (n for n in list(super().list_names(prefix)) if not n.endswith(SUFFIX))

    def stage(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the store must not call native staging")

    promote = discard = stage

    def companion(self, name: str) -> RawSecret | None:
        """The companion of ``name`` as stored (not counted as a call)."""
        try:
            return super().get(name + SUFFIX)
        except SecretNotFoundError:
            return None
        finally:
            self.calls["get"] -= 1
            self.reads[name + SUFFIX] -= 1


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def backend(clock: ManualClock) -> CompanionBackend:
    return CompanionBackend(clock)


def make_store(backend: CompanionBackend, clock: ManualClock,
               events: list[AuditEvent] | None = None) -> SecretStore:
    return SecretStore(backend, retry=RetryPolicy(max_attempts=3), guard=GuardPolicy(threshold=0),
                       poll=PollPolicy(interval=None), clock=clock,
                       audit=(events.append,) if events is not None else ())


@pytest.fixture
def store(backend: CompanionBackend, clock: ManualClock) -> Iterator[SecretStore]:
    with make_store(backend, clock) as store:
        yield store


def test_the_pending_value_waits_in_the_companion(store: SecretStore,
                                                  backend: CompanionBackend) -> None:
    store.put("db", "one")
    seen: list[tuple[str | None, str]] = []
    store.on_rotation("db", lambda old, new: seen.append((old.version if old else None,
                                                          new.version)))
    during: list[tuple[str, list[str], RawSecret | None]] = []

    def test(pending: Secret) -> bool:
        assert (pending.version, pending.labels) == ("2", frozenset({PENDING}))  # the id it gets
        during.append((store.refresh("db").value.reveal(), list(store.list("")),
                       backend.companion("db")))
        return pending.value.reveal() == "two"

    promoted = store.rotate_staged("db", lambda: "two", test)
    reader_saw, listed, companion = during[0]
    assert reader_saw == "one" and listed == ["db"]
    assert companion is not None and companion.value == "two"
    assert companion.metadata[STAGED_FOR] == "1" and companion.metadata[STAGED_BY]
    assert (promoted.version, promoted.value.reveal()) == ("2", "two")
    assert backend.companion("db") is None  # removed once promoted
    assert backend.version_count("db") == 2
    assert seen == [("1", "2")]


def test_without_sequential_versions_the_pending_id_is_the_companions(
    clock: ManualClock
) -> None:
    backend = CompanionBackend(clock, sequential_versions=False)
    with make_store(backend, clock) as store:
        store.put("db", "one")
        ids: list[tuple[str, str | None]] = []

        def test(pending: Secret) -> bool:
            held = backend.companion("db")
            ids.append((pending.version, held.version if held else None))
            return True

        store.rotate_staged("db", lambda: "two", test)
    assert ids == [("1", "1")]


@pytest.mark.parametrize("failure", ["returns False", "raises"])
def test_a_failed_test_removes_the_companion(store: SecretStore, backend: CompanionBackend,
                                             failure: str) -> None:
    store.put("db", "one")

    def test(pending: Secret) -> bool:
        if failure == "raises":
            raise ConnectionRefusedError("refused")
        return False

    with pytest.raises(RotationTestFailed) as info:
        store.rotate_staged("db", lambda: "two", test)
    assert info.value.version == "2"
    assert backend.companion("db") is None
    assert store.refresh("db").value.reveal() == "one"
    assert backend.version_count("db") == 1
    assert store.rotate_staged("db", lambda: "three", lambda p: True).value.reveal() == "three"


def test_a_leftover_from_an_older_rotation_is_replaced(store: SecretStore,
                                                       backend: CompanionBackend) -> None:
    backend.write_external("db", "one")
    # A rotation staged against version 1 whose promotion succeeded without removing it.
    backend.put("db" + SUFFIX, "two", metadata={STAGED_FOR: "1", STAGED_BY: "old"})
    backend.write_external("db", "two")
    promoted = store.rotate_staged("db", lambda: "three", lambda p: True)
    assert (promoted.version, promoted.value.reveal()) == ("3", "three")
    assert backend.companion("db") is None


def test_a_rotation_staged_against_the_current_version_conflicts(
    store: SecretStore, backend: CompanionBackend
) -> None:
    backend.write_external("db", "one")
    backend.put("db" + SUFFIX, "theirs", metadata={STAGED_FOR: "1", STAGED_BY: "another"})
    value = canary("staged")
    tested: list[Secret] = []
    with pytest.raises(ConflictError, match="another rotation is staged") as info:
        store.rotate_staged("db", lambda: value, tested.append)
    assert value not in str(info.value) and value not in repr(info.value)
    assert (info.value.backend, info.value.name) == ("memory", "db")
    assert tested == [], "the test never ran"
    held = backend.companion("db")
    assert held is not None and held.value == "theirs"  # left for its own rotator
    assert backend.current_value("db") == "one"


def test_two_rotators_racing_never_both_win(backend: CompanionBackend, clock: ManualClock) -> None:
    backend.write_external("db", "one")
    testing, go_on = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def slow_test(pending: Secret) -> bool:
        testing.set()
        assert go_on.wait(TIMEOUT)
        return True

    def first() -> None:
        with make_store(backend, clock) as store:
            results["first"] = store.rotate_staged("db", lambda: "first", slow_test).version

    thread = threading.Thread(target=first)
    thread.start()
    assert testing.wait(TIMEOUT)
    with make_store(backend, clock) as other, pytest.raises(ConflictError):
        other.rotate_staged("db", lambda: "second", lambda p: True)  # staged against "1" too
    go_on.set()
    thread.join(TIMEOUT)
    assert results == {"first": "2"}
    assert backend.current_value("db") == "first"


def test_a_rotator_that_slipped_past_the_check_wins_the_companion(
    store: SecretStore, backend: CompanionBackend
) -> None:
    # Both saw no companion; the other wrote it last, so only its promotion may go on.
    backend.write_external("db", "one")

    def test(pending: Secret) -> bool:
        backend.put("db" + SUFFIX, "theirs", metadata={STAGED_FOR: "1", STAGED_BY: "another"})
        return True

    with pytest.raises(ConflictError, match="replaced the staged value"):
        store.rotate_staged("db", lambda: "mine", test)
    assert backend.current_value("db") == "one"
    held = backend.companion("db")
    assert held is not None and held.value == "theirs"


def test_a_write_during_the_test_makes_the_promotion_conflict(
    store: SecretStore, backend: CompanionBackend
) -> None:
    backend.write_external("db", "one")

    def test(pending: Secret) -> bool:
        backend.write_external("db", "someone else")
        return True

    with pytest.raises(ConflictError):
        store.rotate_staged("db", lambda: "mine", test)
    assert backend.current_value("db") == "someone else"


@pytest.mark.parametrize("check_and_set", [True, False], ids=["native-cas", "emulated-cas"])
def test_a_promotion_whose_answer_was_lost_succeeds(clock: ManualClock,
                                                    check_and_set: bool) -> None:
    backend = CompanionBackend(clock, check_and_set=check_and_set)
    events: list[AuditEvent] = []
    with make_store(backend, clock, events) as store:
        store.put("db", "one")

        def test(pending: Secret) -> bool:
            backend.lost_answers = 1  # the promotion's write lands; its answer does not
            return True

        promoted = store.rotate_staged("db", lambda: "two", test)
    assert (promoted.version, promoted.value.reveal()) == ("2", "two")
    assert backend.version_count("db") == 2, "written once"
    assert backend.companion("db") is None
    promotes = [e for e in events if e.operation == "promote"]
    assert promotes and all(e.outcome == "ok" for e in promotes)


def test_a_staging_whose_answer_was_lost_stages_once(store: SecretStore,
                                                     backend: CompanionBackend) -> None:
    store.put("db", "one")
    backend.lost_answers = 1  # the companion write lands; its answer does not
    held: list[RawSecret | None] = []
    store.rotate_staged("db", lambda: "two", lambda p: held.append(backend.companion("db")))
    assert held[0] is not None and held[0].version == "1", "one companion version"
    assert backend.current_value("db") == "two"


def test_a_discard_whose_answer_was_lost_succeeds(store: SecretStore,
                                                  backend: CompanionBackend) -> None:
    store.put("db", "one")

    def test(pending: Secret) -> bool:
        backend.lost_answers = 1  # the companion's delete lands; its answer does not
        return False

    with pytest.raises(RotationTestFailed):
        store.rotate_staged("db", lambda: "two", test)
    assert backend.companion("db") is None


def test_deleting_the_secret_removes_its_companion(store: SecretStore,
                                                   backend: CompanionBackend) -> None:
    store.put("db", "one")
    backend.put("db" + SUFFIX, "two", metadata={STAGED_FOR: "1", STAGED_BY: "crashed"})
    store.delete("db")
    assert backend.companion("db") is None
    store.put("db", "again")  # ids start again: a stale companion would block rotations
    assert store.rotate_staged("db", lambda: "next", lambda p: True).version == "2"


def test_a_name_without_room_for_a_companion_is_refused_before_any_call(
    store: SecretStore, backend: CompanionBackend, caplog: pytest.LogCaptureFixture
) -> None:
    name = "n" * 21
    backend.write_external(name, "one")
    calls = sum(backend.calls.values())
    with pytest.raises(InvalidNameError) as info:
        store.rotate_staged(name, lambda: "two", lambda p: True)
    assert (info.value.backend, info.value.name) == ("memory", name)
    assert sum(backend.calls.values()) == calls
    store.delete(name)  # it never had a companion: nothing to remove, nothing to warn about
    assert caplog.records == []
