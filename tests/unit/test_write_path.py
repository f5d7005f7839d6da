"""The write path's details that callers see: the audit events, errors and logs of staged
rotation (native and by a companion), emulated check-and-set and its lost-answer recovery,
deletes, label moves and rotate(), each on the memory fake shaped like the service that takes
that path (tests/backends/reduced.py)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from helium_secrets import AuditEvent, GuardPolicy, PollPolicy, RetryPolicy, Secret, SecretStore
from helium_secrets.backends.memory import PENDING, MemoryOptions
from helium_secrets.errors import (
    ConflictError,
    ErrorCode,
    PermissionDeniedError,
    RotationTestFailed,
    UnavailableError,
)
from tests.backends.reduced import (
    COMPANION_MARK,
    KEY_VAULT_SHAPED,
    VAULT_KV_SHAPED,
    ScriptedBackend,
)

RETRY = RetryPolicy(max_attempts=3, initial_backoff=0.0, max_backoff=0.0, deadline=60.0)
NATIVE: dict[str, Any] = {}
SHAPES = {"native": NATIVE, "vault-kv": VAULT_KV_SHAPED, "key-vault": KEY_VAULT_SHAPED}
DENIED = ErrorCode.PERMISSION_DENIED


def ticking() -> Any:
    """A clock whose every reading is a second later: each version gets its own time."""
    start = datetime(2024, 1, 1, tzinfo=timezone.utc)
    counter = itertools.count()
    return lambda: start + timedelta(seconds=next(counter))


def make(shape: dict[str, Any]) -> tuple[ScriptedBackend, SecretStore, list[AuditEvent]]:
    backend = ScriptedBackend(options=MemoryOptions(clock=ticking()), **shape)
    events: list[AuditEvent] = []
    store = SecretStore(backend, retry=RETRY, guard=GuardPolicy(threshold=0),
                        poll=PollPolicy(interval=None), audit=(events.append,))
    return backend, store, events


@pytest.fixture(params=sorted(SHAPES))
def shape(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def setup(shape: str) -> Iterator[tuple[ScriptedBackend, SecretStore, list[AuditEvent]]]:
    backend, store, events = make(SHAPES[shape])
    with store:
        yield backend, store, events
    assert backend.unused() == 0, "a scripted fault never fired: the test tested nothing"


def writes_of(events: list[AuditEvent]) -> list[tuple[str, str | None, str]]:
    return [(e.operation, e.name, e.outcome) for e in events
            if e.operation in ("stage", "promote", "discard", "put", "delete", "set_label")]


# -- staged rotation: what the audit trail and the test see ------------------------------------


def test_a_staged_rotation_is_audited_under_the_secrets_name(setup: Any, shape: str) -> None:
    _backend, store, events = setup
    store.put("db", "one")
    events.clear()
    seen: list[Secret] = []

    def test(pending: Secret) -> bool:
        seen.append(pending)
        return True

    promoted = store.rotate_staged("db", lambda: "two", test)
    pending = seen[0]
    assert (pending.name, pending.value.reveal(), pending.labels) == ("db", "two",
                                                                        frozenset({PENDING}))
    trail = writes_of(events)
    if shape == "native":
        assert trail == [("stage", "db", "ok"), ("promote", "db", "ok")]
        staged = [e for e in events if e.operation in ("stage", "promote")]
        assert [e.version for e in staged] == [pending.version, pending.version]
    else:  # the companion is read when staging and promoting, written, then removed
        assert trail == [("stage", "db", "ok"), ("promote", "db", "ok"), ("promote", "db", "ok"),
                         ("discard", "db", "ok")]
        put = [e for e in events if e.operation == "promote"][-1]
        assert put.version == promoted.version
    assert all(COMPANION_MARK not in (e.name or "") for e in events)

    events.clear()
    with pytest.raises(RotationTestFailed) as info:
        store.rotate_staged("db", lambda: "three", lambda p: False)
    assert info.value.name == "db"
    assert writes_of(events) == [("stage", "db", "ok"), ("discard", "db", "ok")]
    if shape == "native":
        discard = next(e for e in events if e.operation == "discard")
        assert discard.version == info.value.version
    with pytest.raises(RotationTestFailed) as info:
        store.rotate_staged("db", lambda: "four", lambda p: 1 / 0)
    assert info.value.name == "db"


def test_the_pending_secret_has_the_staged_versions_time(setup: Any, shape: str) -> None:
    backend, store, _ = setup
    store.put("db", "one")
    seen: list[tuple[Secret, Any]] = []

    def test(pending: Secret) -> bool:
        where = "db" + COMPANION_MARK if shape != "native" else "db"
        seen.append((pending, backend.get(where, label=None if shape != "native" else PENDING)))
        return True

    store.rotate_staged("db", lambda: "two", test)
    pending, staged = seen[0]
    assert pending.created_at is not None and pending.created_at == staged.created_at
    if shape != "vault-kv":  # Vault KV announces the id the promotion will get
        assert pending.version == staged.version


def test_a_staging_whose_answer_was_lost_is_staged_once(setup: Any, shape: str) -> None:
    backend, store, _ = setup
    store.put("db", "one")
    if shape == "native":
        backend.script("stage", "db", lost=True)
    else:
        backend.script("put", "db" + COMPANION_MARK, lost=True)
    seen: list[tuple[Secret, Any]] = []

    def test(pending: Secret) -> bool:
        where = "db" + COMPANION_MARK if shape != "native" else "db"
        seen.append((pending, backend.get(where, label=None if shape != "native" else PENDING)))
        return True

    promoted = store.rotate_staged("db", lambda: "two", test)
    pending, staged = seen[0]
    assert pending.created_at == staged.created_at
    if shape != "vault-kv":
        assert pending.version == staged.version
    if shape == "native":
        assert promoted.version == pending.version
        assert [v.version for v in store.versions("db")] == ["1", "2"], "staged once"
    assert store.get("db").value.reveal() == "two"


@pytest.mark.parametrize("step", ["probe", "stage", "read", "promote", "remove", "refresh"])
def test_each_step_of_a_staged_rotation_is_retried(setup: Any, shape: str, step: str) -> None:
    backend, store, _ = setup
    store.put("db", "one")
    companion = "db" + COMPANION_MARK
    native = shape == "native"
    probe = ("current_version", "db") if backend.capabilities.version_probe else ("get", "db")
    where = {
        "probe": probe,
        "stage": ("stage", "db") if native else ("put", companion),
        "read": ("get", companion) if not native else None,  # the companion read to promote
        "promote": ("promote", "db") if native else ("put", "db"),
        "remove": ("delete", companion) if not native else None,
        "refresh": ("get", "db"),
    }[step]
    if where is None:
        pytest.skip("no such step when staging natively")
    skip = 0
    if step == "read":
        skip = 1  # the staging reads it first
    if step == "refresh" and not backend.capabilities.version_probe:
        skip = 1  # the probe was a read too
    backend.script(*where, skip=skip)
    promoted = store.rotate_staged("db", lambda: "two", lambda p: True)
    assert promoted.value.reveal() == "two"
    assert store.stats().retries >= 1


@pytest.mark.parametrize("failure", ["returns False", "raises"])
def test_a_failed_test_is_discarded_after_a_retry(setup: Any, shape: str, failure: str) -> None:
    backend, store, _ = setup
    store.put("db", "one")
    if shape == "native":
        backend.script("discard", "db")
    else:
        backend.script("delete", "db" + COMPANION_MARK)
    with pytest.raises(RotationTestFailed):
        store.rotate_staged("db", lambda: "two", lambda p: False if failure == "returns False"
                            else 1 / 0)
    assert store.stats().retries == 1
    if shape != "native":
        assert ("db" + COMPANION_MARK) not in backend._secrets


def test_a_promotion_that_conflicts_with_itself_after_a_lost_answer_succeeds() -> None:
    backend, store, _ = make(NATIVE)
    with store:
        store.put("db", "one")
        backend.script("promote", "db", lost=True)
        backend.script("current_version", "db", skip=1)  # the check after the conflict, retried
        promoted = store.rotate_staged("db", lambda: "two", lambda p: True)
        assert (promoted.version, promoted.value.reveal()) == ("2", "two")
        assert backend.unused() == 0


def test_a_write_between_the_probe_and_the_staging_conflicts() -> None:
    backend, store, _ = make(NATIVE)
    with store:
        store.put("db", "one")
        backend.script("stage", "db", None, then=lambda: backend.write_external("db", "theirs"))
        tested: list[Secret] = []
        with pytest.raises(ConflictError):
            store.rotate_staged("db", lambda: "two", tested.append)
        assert tested == []
        assert store.refresh("db").value.reveal() == "theirs"


def test_a_staged_value_echoed_in_an_error_is_scrubbed(setup: Any, shape: str) -> None:
    backend, store, _ = setup
    store.put("db", "one")
    value = "s3cr3t-staged-value"
    where = ("stage", "db") if shape == "native" else ("put", "db" + COMPANION_MARK)
    backend.script(*where, DENIED, message=f"refused {value}")
    with pytest.raises(PermissionDeniedError) as info:
        store.rotate_staged("db", lambda: value, lambda p: True)
    assert value not in str(info.value) and "refused" in str(info.value)


# -- logs when cleaning up fails ------------------------------------------------------------------


def test_a_discard_that_fails_is_logged_and_the_test_failure_raised(
    setup: Any, shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    backend, store, _ = setup
    store.put("db", "one")
    if shape == "native":
        backend.script("discard", "db", DENIED)
    else:
        backend.script("delete", "db" + COMPANION_MARK, DENIED)
    with caplog.at_level(logging.ERROR, "helium_secrets"), \
            pytest.raises(RotationTestFailed) as info:
        store.rotate_staged("db", lambda: "two", lambda p: False)
    assert [r.getMessage() for r in caplog.records] == [
        f"could not discard pending version {info.value.version} of 'db': permission_denied"]


def test_a_companion_left_after_promotion_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    backend, store, _ = make(VAULT_KV_SHAPED)
    with store, caplog.at_level(logging.WARNING, "helium_secrets"):
        store.put("db", "one")
        backend.script("delete", "db" + COMPANION_MARK, DENIED)
        assert store.rotate_staged("db", lambda: "two", lambda p: True).value.reveal() == "two"
        assert [r.getMessage() for r in caplog.records] == [
            "could not remove the staged companion of 'db': permission_denied"]


# -- deletes ----------------------------------------------------------------------------------


def test_delete_hands_purge_to_the_backend_and_purges_the_companion() -> None:
    backend, store, _ = make(VAULT_KV_SHAPED)
    with store:
        store.put("db", "one")
        store.delete("db")
        store.put("db", "one")
        store.delete("db", purge=True)
        assert backend.purges == [("db", False), ("db" + COMPANION_MARK, True),
                                  ("db", True), ("db" + COMPANION_MARK, True)]


def test_deleting_a_secret_without_a_companion_logs_nothing(
    caplog: pytest.LogCaptureFixture
) -> None:
    _backend, store, _ = make(KEY_VAULT_SHAPED)
    with store, caplog.at_level(logging.DEBUG, "helium_secrets"):
        store.put("db", "one")
        store.delete("db")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_a_companion_that_cannot_be_removed_on_delete_is_logged(
    caplog: pytest.LogCaptureFixture
) -> None:
    backend, store, _ = make(VAULT_KV_SHAPED)
    with store, caplog.at_level(logging.WARNING, "helium_secrets"):
        store.put("db", "one")
        backend.script("delete", "db" + COMPANION_MARK, DENIED)
        store.delete("db")
    assert [r.getMessage() for r in caplog.records] == [
        "could not remove the staged companion of 'db': permission_denied"]


def test_removing_the_companion_on_delete_is_retried(caplog: pytest.LogCaptureFixture) -> None:
    backend, store, _ = make(VAULT_KV_SHAPED)
    with store, caplog.at_level(logging.WARNING, "helium_secrets"):
        store.put("db", "one")
        backend.put("db" + COMPANION_MARK, "two")
        backend.script("delete", "db" + COMPANION_MARK)
        store.delete("db")
        assert store.stats().retries == 1
    assert ("db" + COMPANION_MARK) not in backend._secrets
    assert caplog.records == []


def test_a_secret_created_again_after_a_delete_is_announced_as_new() -> None:
    _backend, store, _ = make(NATIVE)
    with store:
        store.put("db", "one")
        seen: list[tuple[str | None, str]] = []
        store.on_rotation("db", lambda old, new: seen.append(
            (old.version if old else None, new.value.reveal())))
        store.put("db", "two")
        store.delete("db")
        store.put("db", "again")
        assert seen == [("1", "two"), (None, "again")]


def test_a_companion_whose_removal_reports_an_sdk_error_keeps_it_as_the_cause() -> None:
    from helium_secrets.backends.memory import InjectedFault

    backend, store, _ = make(VAULT_KV_SHAPED)
    with store:
        store.put("db", "one")
        backend.script("get", "db" + COMPANION_MARK, DENIED)
        with pytest.raises(PermissionDeniedError) as info:
            store.rotate_staged("db", lambda: "two", lambda p: True)
        assert info.value.name == "db"
        assert isinstance(info.value.__cause__, InjectedFault)


# -- emulated check-and-set ---------------------------------------------------------------------


@pytest.fixture
def emulated() -> Iterator[tuple[ScriptedBackend, SecretStore]]:
    backend, store, _ = make(KEY_VAULT_SHAPED)
    with store:
        yield backend, store
    assert backend.unused() == 0


def _conflict(store: SecretStore, message: str, **options: Any) -> None:
    with pytest.raises(ConflictError) as info:
        store.put("db", "new", **options)
    assert (info.value.message, info.value.backend, info.value.name) == (message, "memory", "db")


def test_emulated_check_and_set_refuses_with_the_reason(
    emulated: tuple[ScriptedBackend, SecretStore]
) -> None:
    _backend, store = emulated
    _conflict(store, "check-and-set failed: secret not found", expected_version="1")
    first = store.put("db", "one")
    _conflict(store, "the secret already exists", create_only=True)
    store.put("db", "two")
    _conflict(store, "check-and-set failed: the current version changed",
              expected_version=first.version)


def test_a_lost_check_and_set_answer_returns_what_landed(
    emulated: tuple[ScriptedBackend, SecretStore]
) -> None:
    backend, store = emulated
    first = store.put("db", "one")
    backend.script("put", "db", lost=True)
    written = store.put("db", "two", expected_version=first.version, labels=["blue"])
    current = store.refresh("db")
    assert (written.version, written.labels, written.created_at) == (
        current.version, frozenset({"blue"}), current.created_at)
    assert written.created_at is not None
    assert store.stats().backend_calls == sum(backend.calls.values())


def test_an_emulated_check_and_set_writes_the_metadata_and_labels_asked(
    emulated: tuple[ScriptedBackend, SecretStore]
) -> None:
    _backend, store = emulated
    first = store.put("db", "one")
    store.put("db", "two", expected_version=first.version, metadata={"owner": "team-a"},
              labels=["blue"])
    current = store.refresh("db")
    assert (dict(current.metadata), current.labels >= {"blue"}) == ({"owner": "team-a"}, True)


def test_an_emulated_check_and_set_of_the_same_value_writes_a_new_version(
    emulated: tuple[ScriptedBackend, SecretStore]
) -> None:
    """Only a retry looks for an earlier attempt that landed: a first attempt that finds the
    value it writes already current still writes (a rotation to the same value is a new
    version), with one read to compare and one write."""
    backend, store = emulated
    first = store.put("db", "same")
    calls = store.stats().backend_calls
    second = store.put("db", "same", expected_version=first.version)
    assert second.version != first.version
    assert store.refresh("db").version == second.version
    assert store.stats().backend_calls - calls == 3  # compare, write, and the refresh
    assert store.stats().backend_calls == sum(backend.calls.values())


@pytest.mark.parametrize("guard", ["create_only", "expected_version"])
def test_a_check_and_set_put_that_failed_before_landing_is_retried(
    emulated: tuple[ScriptedBackend, SecretStore], guard: str
) -> None:
    backend, store = emulated
    options: dict[str, Any] = {"create_only": True}
    if guard == "expected_version":
        options = {"expected_version": store.put("db", "one").version}
    backend.script("put", "db")
    written = store.put("db", "two", **options)
    assert store.refresh("db").version == written.version
    assert len(store.versions("db")) == (2 if guard == "expected_version" else 1)
    assert store.stats().backend_calls == sum(backend.calls.values())


def test_a_retried_check_and_set_put_conflicts_with_a_write_meanwhile(
    emulated: tuple[ScriptedBackend, SecretStore]
) -> None:
    backend, store = emulated
    first = store.put("db", "one")
    backend.script("put", "db", then=lambda: backend.write_external("db", "theirs"))
    with pytest.raises(ConflictError) as info:
        store.put("db", "mine", expected_version=first.version)
    assert info.value.message == "check-and-set failed: the current version changed"
    assert store.refresh("db").value.reveal() == "theirs"


@pytest.mark.parametrize("check_and_set", ["native", "emulated"])
def test_a_retried_check_and_set_put_conflicts_with_a_delete_meanwhile(check_and_set: str) -> None:
    # Retried after a failure, the put conflicts; the secret it would have been is gone, so
    # the conflict stands (the look for our own write finds nothing, which is no answer).
    backend, store, _ = make(KEY_VAULT_SHAPED if check_and_set == "emulated" else NATIVE)
    with store:
        first = store.put("db", "one")
        backend.script("put", "db", then=lambda: backend.delete("db"))
        with pytest.raises(ConflictError) as info:
            store.put("db", "mine", expected_version=first.version)
        assert (info.value.backend, info.value.name) == ("memory", "db")
        if check_and_set == "emulated":
            assert info.value.message == "check-and-set failed: the secret was deleted"
        assert "db" not in list(store.list(""))
        assert backend.unused() == 0


class TokenRecordingBackend(ScriptedBackend):
    """A service that honours request tokens but has no conditional write or native staging
    (AWS-like): it records the token of every put, by raw name."""

    def __init__(self) -> None:
        super().__init__(options=MemoryOptions(clock=ticking()), check_and_set=False,
                         staging=False, staging_companion=True)
        self.tokens: list[tuple[str, str | None]] = []

    def put(self, name: str, value: str | bytes, **options: Any) -> Any:
        self.tokens.append((name, options.get("request_token")))
        return super().put(name, value, **options)


@pytest.mark.parametrize("write", ["check-and-set", "create-only", "staging"])
def test_an_emulated_write_hands_the_backend_one_request_token_on_every_attempt(
    write: str
) -> None:
    """The backend contract: a unique id of the logical write, the same on each retry of it.
    An emulated check-and-set and a companion's staging write are no exception: a service
    that sees a retried write only later relies on the token to make it once."""
    backend = TokenRecordingBackend()
    raw = {"check-and-set": "db", "create-only": "new", "staging": "db" + COMPANION_MARK}[write]
    with SecretStore(backend, retry=RETRY, guard=GuardPolicy(threshold=0),
                     poll=PollPolicy(interval=None)) as store:
        first = store.put("db", "one")
        backend.script("put", raw)  # the first attempt fails before it lands, then a retry
        backend.tokens.clear()
        if write == "check-and-set":
            store.put("db", "two", expected_version=first.version)
        elif write == "create-only":
            store.put("new", "two", create_only=True)
        else:
            store.rotate_staged("db", lambda: "two", lambda pending: True)
    assert backend.unused() == 0
    attempts = [token for name, token in backend.tokens if name == raw]
    assert len(attempts) == 2, "one failed attempt, one retry"
    assert attempts[0] is not None and attempts[0] == attempts[1]
    assert None not in [token for _name, token in backend.tokens]


# -- label moves and rotate() -----------------------------------------------------------------


def test_a_label_move_is_audited_and_read_back() -> None:
    _backend, store, events = make(NATIVE)
    with store:
        first = store.put("db", "one")
        assert store.get("db").labels == frozenset()  # cached
        store.set_label("db", "blue", first.version)
        assert store.get("db").labels == frozenset({"blue"})
        assert [(e.operation, e.name, e.version) for e in events if e.operation == "set_label"] \
            == [("set_label", "db", first.version)]


def test_rotate_conflicts_with_a_secret_created_after_its_probe() -> None:
    backend, store, _ = make(NATIVE)
    with store:
        backend.script("current_version", "db", ErrorCode.NOT_FOUND,
                       then=lambda: backend.write_external("db", "theirs"))
        with pytest.raises(ConflictError):
            store.rotate("db", lambda: "mine")
        assert store.refresh("db").value.reveal() == "theirs"


def test_rotate_writes_the_metadata() -> None:
    _backend, store, _ = make(NATIVE)
    with store:
        store.rotate("db", lambda: "one", metadata={"owner": "team-a"})
        assert store.refresh("db").metadata == {"owner": "team-a"}


def test_a_promotion_whose_answers_are_lost_for_good_leaves_no_stale_value_cached() -> None:
    backend, store, _ = make(NATIVE)
    with store:
        store.put("db", "one")
        assert store.get("db").value.reveal() == "one"  # cached
        backend.script("promote", "db", lost=True)
        backend.script("promote", "db")
        backend.script("promote", "db")
        with pytest.raises(UnavailableError):
            store.rotate_staged("db", lambda: "two", lambda p: True)
        assert store.get("db").value.reveal() == "two", "the promotion landed"
        assert backend.unused() == 0


def test_a_companion_replaced_during_the_test_makes_the_promotion_conflict() -> None:
    backend, store, _ = make(VAULT_KV_SHAPED)
    with store:
        store.put("db", "one")

        def test(pending: Secret) -> bool:
            backend.put("db" + COMPANION_MARK, "theirs")
            return True

        with pytest.raises(ConflictError) as info:
            store.rotate_staged("db", lambda: "mine", test)
        assert (info.value.message, info.value.backend, info.value.name) == (
            "promotion failed: another rotation replaced the staged value", "memory", "db")


def test_a_companion_removed_during_a_failed_test_is_not_an_error(
    caplog: pytest.LogCaptureFixture
) -> None:
    backend, store, _ = make(VAULT_KV_SHAPED)
    with store, caplog.at_level(logging.WARNING, "helium_secrets"):
        store.put("db", "one")

        def test(pending: Secret) -> bool:
            backend.delete("db" + COMPANION_MARK)
            return False

        with pytest.raises(RotationTestFailed):
            store.rotate_staged("db", lambda: "two", test)
    assert caplog.records == []
