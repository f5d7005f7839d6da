"""The lease keeper's contract in detail, on a virtual clock: what each error says and names,
the fields of the leases handed out, the backoff after failures (of the leases and of the
backend's own upkeep), what the logs say, revocation when a lease is let go mid-way, the
keeper's thread, and a forked child (issue #21's survivors of ``_leases``)."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from helium_secrets import GuardPolicy, Lease, LeasePolicy, PollPolicy, SecretStore, redaction
from helium_secrets import _leases as leases_module
from helium_secrets.backends._base import LeaseGrant
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import (
    InvalidArgumentError,
    StoreClosedError,
    UnavailableError,
    UnsupportedError,
)
from helium_secrets.layers.audit import AuditEvent
from helium_secrets.layers.retry import Clock, RetryPolicy, SystemClock
from helium_secrets.testing import ManualClock
from tests.unit.clock import ControlledBackend
from tests.unit.test_leases import NO_JITTER, LeaseServer

PATH = "database/creds/app"
INF = float("inf")
#: Seconds a test waits for the keeper's thread: generous, for a slow loaded 2-core machine.
TIMEOUT = 30.0


class Service(LeaseServer):
    """:class:`LeaseServer`, recording each call with its argument and time, with grants the
    test can script (``issue_ttls``, ``renew_grants``), leases that may be not renewable, and
    an upkeep of its own (Vault's token) due at ``upkeep_at``, every ``upkeep_period`` after."""

    def __init__(self, clock: Clock, *, ttl: float = 30, max_ttl: float = 100,
                 renewable: bool = True, upkeep_at: float = INF,
                 upkeep_period: float = INF) -> None:
        super().__init__(clock, ttl=ttl, max_ttl=max_ttl)  # type: ignore[arg-type]
        self.renewable = renewable
        self.attempts: list[tuple[str, object, float]] = []  # (call, path/increment/id, time)
        self.issue_ttls: list[float] = []
        self.renew_grants: list[float] = []
        self.upkeep_at, self.upkeep_period = upkeep_at, upkeep_period
        self.upkeep_down = False
        self.on_issue: Callable[[str], None] | None = None
        self.issue_gate: dict[str, tuple[threading.Event, threading.Event]] = {}

    def issue_lease(self, path: str) -> LeaseGrant:
        if path in self.issue_gate:  # held until the test releases it
            entered, release = self.issue_gate.pop(path)
            entered.set()
            assert release.wait(TIMEOUT)
        if self.on_issue is not None:
            self.on_issue(path)
        now = self.clock.monotonic()
        self.attempts.append(("issue", path, now))  # every attempt, failed ones too
        self._up("issue")
        ttl = self.issue_ttls.pop(0) if self.issue_ttls else self.ttl
        lease_id = f"{path}/{next(self.ids)}"
        self.ends[lease_id] = now + self.max_ttl
        self.expiry[lease_id] = now + ttl if ttl > 0 else INF
        return LeaseGrant(lease_id, ttl, self.renewable,
                          {"username": f"user-{lease_id}",
                           "password": f"canary-contract-{self.tag}-{lease_id}"})

    def renew_lease(self, lease_id: str, increment: float | None) -> LeaseGrant:
        now = self.clock.monotonic()
        self.attempts.append(("renew", increment, now))
        self._up("renew")
        if lease_id in self.revoked or self.expiry[lease_id] <= now:
            raise InvalidArgumentError("lease not found or lease is not renewable")
        granted = (self.renew_grants.pop(0) if self.renew_grants
                   else min(increment or self.ttl, self.ends[lease_id] - now))
        self.expiry[lease_id] = now + granted if granted > 0 else INF
        return LeaseGrant(lease_id, granted, self.renewable)

    def revoke_lease(self, lease_id: str) -> None:
        super().revoke_lease(lease_id)
        self.attempts.append(("revoke", lease_id, self.clock.monotonic()))

    def lease_upkeep_due(self) -> float:
        return max(0.0, self.upkeep_at - self.clock.monotonic())

    def lease_upkeep(self) -> None:
        now = self.clock.monotonic()
        self.attempts.append(("upkeep", None, now))
        if self.upkeep_down:
            raise UnavailableError("the token could not be renewed")
        self.upkeep_at = now + self.upkeep_period

    def times(self, call: str) -> list[float]:
        return [at for what, _, at in self.attempts if what == call]


_opened: list[SecretStore] = []


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().close()


def make(policy: LeasePolicy = NO_JITTER, *, start: float = 1000.0, retry: int = 1,
         **service: float) -> tuple[SecretStore, Service, ManualClock, list[AuditEvent]]:
    clock = ManualClock(start)
    backend = Service(clock, **service)  # type: ignore[arg-type]
    events: list[AuditEvent] = []
    store = SecretStore(backend, lease=policy, clock=clock, audit=[events.append],
                        retry=RetryPolicy(max_attempts=retry))
    _opened.append(store)
    return store, backend, clock, events


def run_until(store: SecretStore, clock: ManualClock, until: float) -> None:
    """Advance the clock from due point to due point, doing the work of each; a keeper that
    keeps answering "now" without getting anything done fails instead of hanging."""
    for _ in range(1000):
        due = store.maintain_leases()
        if due > until:
            clock.advance(max(0.0, until - clock.monotonic()))
            return
        clock.advance(max(0.0, due - clock.monotonic()))
    raise AssertionError(f"the keeper never got past {clock.monotonic()}")


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.name == "helium_secrets.leases"]


def iso(moment: datetime | None) -> str:
    assert moment is not None
    return moment.isoformat(timespec="seconds")


# -- paths and the errors that name them ------------------------------------------------------


def test_a_path_that_is_not_a_str_is_refused_naming_its_type() -> None:
    store, server, _, _ = make()
    with pytest.raises(TypeError) as caught:
        store.lease(42)  # type: ignore[arg-type]
    assert str(caught.value) == "a lease path is a str, not int"
    assert server.attempts == []


@pytest.mark.parametrize("bad", ["/database/creds/app", "database//creds", " database/creds"])
def test_a_path_with_a_leading_slash_or_a_gap_is_refused_with_an_example(bad: str) -> None:
    store, server, _, _ = make()
    with pytest.raises(InvalidArgumentError) as caught:
        store.lease(bad)
    error = caught.value
    assert error.message == ("a lease path is the service's path without a leading '/', such "
                             "as 'database/creds/ROLE'")
    assert error.backend == "leaseserver" and error.name == bad
    assert server.attempts == []


def test_an_empty_path_is_refused_naming_no_secret() -> None:
    store, _, _, _ = make()
    with pytest.raises(InvalidArgumentError) as caught:
        store.lease("")
    assert caught.value.name is None and caught.value.backend == "leaseserver"
    assert "without a leading '/'" in caught.value.message


@pytest.mark.parametrize("bad", ["database/./creds", "database/creds/..", "database/cr\neds"])
def test_dot_segments_and_control_characters_are_refused(bad: str) -> None:
    store, server, _, _ = make()
    with pytest.raises(InvalidArgumentError) as caught:
        store.lease(bad)
    error = caught.value
    assert error.message == ("a lease path has no '.' or '..' segments and no control "
                             "characters")
    assert error.backend == "leaseserver" and error.name is None
    assert server.attempts == []


def test_a_backend_without_leases_says_so_naming_itself_and_the_path() -> None:
    store = SecretStore(MemoryBackend())
    _opened.append(store)
    with pytest.raises(UnsupportedError) as caught:
        store.lease(PATH)
    assert caught.value.message == "the memory backend issues no leases"
    assert caught.value.backend == "memory" and caught.value.name == PATH


def test_maintaining_a_store_that_never_leased_has_nothing_due() -> None:
    store, _, _, _ = make()
    assert store.maintain_leases() == INF


# -- what the handle's errors say ------------------------------------------------------------


def test_a_revoked_handle_refuses_reads_and_listeners_and_revoking_again_is_a_no_op() -> None:
    store, server, _, _ = make()
    handle = store.lease(PATH)
    handle.revoke()
    with pytest.raises(InvalidArgumentError) as read:
        _ = handle.current
    assert read.value.message == ("this lease was revoked: ask the store for the lease again "
                                  "for new credentials")
    assert read.value.backend == "leaseserver" and read.value.name == PATH
    with pytest.raises(InvalidArgumentError) as listen:
        handle.on_reissue(lambda old, new: None)
    assert listen.value.message == "this lease was revoked"
    assert listen.value.backend == "leaseserver" and listen.value.name == PATH
    handle.revoke()  # nothing left to revoke
    assert server.revoked == [f"{PATH}/1"]


def test_a_closed_store_says_its_leases_were_revoked() -> None:
    store, _, _, _ = make()
    handle = store.lease(PATH)
    store.close()
    with pytest.raises(StoreClosedError) as caught:
        _ = handle.current
    assert caught.value.message == "the store is closed (its leases were revoked)"
    assert caught.value.backend == "leaseserver" and caught.value.name == PATH


def test_credentials_are_expired_from_the_moment_their_grant_ends() -> None:
    store, _, clock, _ = make(ttl=30)
    handle = store.lease(PATH)
    expires = handle.current.expires_at
    clock.advance(29.9)
    assert handle.current.lease_id == f"{PATH}/1"
    clock.advance(0.1)  # exactly the end of the grant; nobody tried to renew it
    with pytest.raises(UnavailableError) as caught:
        _ = handle.current
    assert caught.value.message == (f"the leased credentials expired at {iso(expires)} and no "
                                    "new ones could be issued")
    assert caught.value.backend == "leaseserver" and caught.value.name == PATH


# -- the leases handed out -------------------------------------------------------------------


def _near(moment: datetime | None, expected: datetime) -> bool:
    assert moment is not None and moment.tzinfo is not None
    return abs((moment - expected).total_seconds()) < 5


def test_an_issued_lease_carries_what_the_service_granted() -> None:
    store, server, _, _ = make(ttl=30)
    lease = store.lease(PATH).current
    now = datetime.now(timezone.utc)
    assert server.attempts == [("issue", PATH, 1000.0)]
    assert (lease.path, lease.lease_id, lease.duration, lease.renewable) == (
        PATH, f"{PATH}/1", 30, True)
    assert lease.issued_at.utcoffset() == timedelta(0) and _near(lease.issued_at, now)
    assert lease.expires_at == lease.issued_at + timedelta(seconds=30)
    assert lease["username"].reveal() == f"user-{PATH}/1"


def test_a_renewal_asks_for_the_first_duration_and_updates_the_lease() -> None:
    store, server, clock, _ = make(ttl=30)
    handle = store.lease(PATH)
    first = handle.current
    run_until(store, clock, 1020)
    assert server.attempts[1] == ("renew", 30, 1020.0)
    renewed = handle.current
    assert (renewed.path, renewed.lease_id, renewed.duration, renewed.renewable) == (
        PATH, first.lease_id, 30, True)
    assert renewed.issued_at == first.issued_at and renewed.credentials == first.credentials
    assert _near(renewed.expires_at, datetime.now(timezone.utc) + timedelta(seconds=30))


def test_a_renewal_asks_for_the_policy_increment() -> None:
    store, server, clock, _ = make(LeasePolicy(jitter=0, background=False, increment=50),
                                   ttl=30, max_ttl=1000)
    handle = store.lease(PATH)
    run_until(store, clock, 1020)
    assert server.attempts[1] == ("renew", 50, 1020.0)
    assert handle.current.duration == 50
    assert _near(handle.current.expires_at, datetime.now(timezone.utc) + timedelta(seconds=50))
    run_until(store, clock, 1020 + 50 * 2 / 3 + 0.01)  # the next renewal: 2/3 of the 50 s
    assert server.times("renew") == [1020.0, pytest.approx(1020 + 50 * 2 / 3)]


def test_a_one_second_grant_is_a_one_second_lease() -> None:
    store, server, clock, _ = make(ttl=1)
    handle = store.lease(PATH)
    assert _near(handle.current.expires_at, datetime.now(timezone.utc) + timedelta(seconds=1))
    server.down = True
    clock.advance(1)
    with pytest.raises(UnavailableError, match="expired at"):
        _ = handle.current


def test_a_renewal_capped_to_one_second_ends_the_lease_a_second_later() -> None:
    store, server, clock, _ = make(ttl=30, max_ttl=21)
    handle = store.lease(PATH)
    clock.advance(20)
    store.maintain_leases()  # renewed at 1020: 1 s left of the maximum
    assert server.lease_calls == ["issue", "renew"] and handle.current.duration == 1
    assert _near(handle.current.expires_at, datetime.now(timezone.utc) + timedelta(seconds=1))
    server.down = True  # the re-issue it calls for (at once) fails
    store.maintain_leases()
    assert server.lease_calls[-1] == "issue"
    clock.advance(1)
    with pytest.raises(UnavailableError) as caught:
        _ = handle.current
    assert caught.value.message.endswith("; the last attempt failed: unavailable")


def test_a_lease_granted_without_an_end_is_served_forever_and_revoked_on_close() -> None:
    store, server, clock, _ = make(ttl=30)
    server.issue_ttls = [0]
    handle = store.lease(PATH)
    lease = handle.current
    assert lease.duration == 0 and lease.expires_at is None
    assert store.maintain_leases() == INF
    clock.advance(10**6)
    assert handle.current.lease_id == lease.lease_id
    assert store.maintain_leases() == INF and server.lease_calls == ["issue"]
    store.close()
    assert server.revoked == [lease.lease_id]


def test_a_renewal_granted_without_an_end_is_never_due_again() -> None:
    store, server, clock, _ = make(ttl=30)
    handle = store.lease(PATH)
    server.renew_grants = [0]
    run_until(store, clock, 1021)
    assert handle.current.duration == 0 and handle.current.expires_at is None
    assert store.maintain_leases() == INF
    clock.advance(10**6)
    assert handle.current.lease_id == f"{PATH}/1" and server.lease_calls == ["issue", "renew"]


# -- failures: the backoff and what the log says ---------------------------------------------


def test_failed_renewals_back_off_doubling_and_start_over_after_a_success(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "helium_secrets.leases")
    policy = LeasePolicy(jitter=0, background=False, min_retry=1, max_retry=8)
    store, server, clock, _ = make(policy, ttl=300, max_ttl=10**6)
    handle = store.lease(PATH)
    expires = handle.current.expires_at
    server.down = True
    run_until(store, clock, 1231)
    # due at 1200; then 1, 2, 4, 8 s later, and every 8 s (half of what is left is longer)
    assert server.times("renew") == [1200, 1201, 1203, 1207, 1215, 1223, 1231]
    assert messages(caplog)[:2] == [
        f"keeping the lease of {PATH!r} alive failed (unavailable, attempt {n}); its "
        f"credentials expire at {iso(expires)}" for n in (1, 2)]
    assert messages(caplog)[6].startswith(
        f"keeping the lease of {PATH!r} alive failed (unavailable, attempt 7); ")
    server.down = False
    run_until(store, clock, 1239)
    assert server.times("renew")[-1] == 1239  # renewed: 300 s more from 1239
    server.down = True
    run_until(store, clock, 1239 + 200 + 3)
    assert server.times("renew")[-3:] == [1439, 1440, 1442]  # 1 s, then 2 s: counted anew
    assert messages(caplog)[-3:] == [
        f"keeping the lease of {PATH!r} alive failed (unavailable, attempt {n}); its "
        f"credentials expire at {iso(handle.current.expires_at)}" for n in (1, 2, 3)]


def test_a_failure_at_the_end_of_the_grant_says_the_credentials_have_expired(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "helium_secrets.leases")
    store, server, clock, _ = make(ttl=30)
    handle = store.lease(PATH)
    server.down = True
    clock.advance(30)  # the renewal, due at 20, is first tried exactly at the end
    store.maintain_leases()
    assert messages(caplog) == [f"keeping the lease of {PATH!r} alive failed (unavailable, "
                                "attempt 1); its credentials have expired"]
    with pytest.raises(UnavailableError) as caught:
        _ = handle.current
    assert caught.value.message.endswith("; the last attempt failed: unavailable")


def test_a_failure_half_a_second_before_the_end_gives_the_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "helium_secrets.leases")
    store, server, clock, _ = make(ttl=30)
    handle = store.lease(PATH)
    expires = handle.current.expires_at
    server.down = True
    clock.advance(29.5)
    store.maintain_leases()
    assert messages(caplog) == [f"keeping the lease of {PATH!r} alive failed (unavailable, "
                                f"attempt 1); its credentials expire at {iso(expires)}"]


def test_a_failed_reissue_is_retried_within_the_lease_life_then_listeners_get_the_new_one(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "helium_secrets.leases")
    store, server, clock, events = make(ttl=30, renewable=False)
    handle = store.lease(PATH)
    first = handle.current
    changes: list[tuple[Lease, Lease]] = []
    handle.on_reissue(lambda old, new: changes.append((old, new)))
    server.down = True
    run_until(store, clock, 1026.5)
    # the re-issue is due at 1020 (10 s of overlap); 1 s, 2 s, then half of what is left
    assert server.lease_calls[1:] == ["issue"] * 4  # at 1020, 1021, 1023, 1026.5
    assert [e.outcome for e in events if e.operation == "lease_reissue"] == ["error"] * 4
    assert messages(caplog)[3] == (f"keeping the lease of {PATH!r} alive failed (unavailable, "
                                   f"attempt 4); its credentials expire at {iso(first.expires_at)}")
    assert changes == [] and handle.current == first
    server.down = False
    run_until(store, clock, 1028.25)  # the next attempt: half of the 3.5 s left
    assert server.times("issue") == [1000, 1020, 1021, 1023, 1026.5, 1028.25]
    new = handle.current
    assert changes == [(first, new)] and new.path == PATH and new.lease_id == f"{PATH}/2"
    assert server.attempts[-1] == ("issue", PATH, 1028.25)


def test_a_failing_listener_is_logged_by_type_only() -> None:
    store, _, clock, _ = make(ttl=30, renewable=False)
    handle = store.lease(PATH)

    def broken(old: Lease, new: Lease) -> None:
        raise RuntimeError(f"listener bug {new['password'].reveal()}")

    handle.on_reissue(broken)
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger = logging.getLogger("helium_secrets.leases")
    logger.addHandler(handler)
    try:
        run_until(store, clock, 1021)
    finally:
        logger.removeHandler(handler)
    assert [r.getMessage() for r in records] == [
        f"lease listener {broken!r} of {PATH!r} failed: RuntimeError"]
    assert records[0].levelno == logging.WARNING


def test_revocations_that_fail_are_logged_and_close_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "helium_secrets.leases")
    store, server, _, events = make()
    store.lease(PATH)
    server.down = True
    store.close()
    assert store.closed
    assert messages(caplog) == [f"revoking a lease of {PATH!r} failed: unavailable"]
    assert [(e.operation, e.name, e.outcome) for e in events][-1] == (
        "lease_revoke", PATH, "error")


def test_close_at_the_end_of_an_old_lease_revokes_only_the_current_one() -> None:
    store, server, clock, _ = make(ttl=30, max_ttl=40)
    handle = store.lease(PATH)
    run_until(store, clock, 1040)  # replaced at 1030; the first ends at 1040, now
    second = handle.current.lease_id
    assert second == f"{PATH}/2"
    store.close()
    assert server.revoked == [second]


# -- letting go while work is under way -------------------------------------------------------


def test_a_lease_revoked_while_its_replacement_is_issued_revokes_the_replacement() -> None:
    store, server, clock, events = make(ttl=30, renewable=False)
    handle = store.lease(PATH)
    changes: list[object] = []
    handle.on_reissue(lambda old, new: changes.append(new))

    def revoke_first(path: str) -> None:
        server.on_issue = None
        handle.revoke()  # the application lets go while the new credentials are issued

    server.on_issue = revoke_first
    run_until(store, clock, 1021)
    assert server.revoked == [f"{PATH}/1", f"{PATH}/2"]  # nobody will use the new ones
    assert [(e.operation, e.name) for e in events][-1] == ("lease_revoke", PATH)
    assert changes == []
    with pytest.raises(InvalidArgumentError, match="revoked"):
        _ = handle.current
    assert store.maintain_leases() == INF


def test_a_listener_revoking_another_path_skips_it_and_the_rest_go_on() -> None:
    store, server, clock, _ = make(ttl=30, renewable=False)
    a, b, _c = (store.lease(f"database/creds/{role}") for role in "abc")
    a.on_reissue(lambda old, new: b.revoke())
    clock.advance(20)  # all three are due for new credentials now
    store.maintain_leases()
    assert [path for call, path, _ in server.attempts if call == "issue"] == [
        "database/creds/a", "database/creds/b", "database/creds/c",
        "database/creds/a", "database/creds/c"]
    assert server.revoked == ["database/creds/b/2"]


def test_a_listener_closing_the_store_stops_the_round() -> None:
    store, server, clock, _ = make(ttl=30, renewable=False)
    a = store.lease("database/creds/a")
    store.lease("database/creds/b")
    a.on_reissue(lambda old, new: store.close())
    clock.advance(20)
    assert store.maintain_leases() == INF
    assert server.lease_calls == ["issue", "issue", "issue", "revoke", "revoke", "revoke"]


def test_issues_of_two_paths_do_not_wait_for_each_other() -> None:
    store, server, _, _ = make()
    entered, release = threading.Event(), threading.Event()
    server.issue_gate["database/creds/slow"] = (entered, release)
    slow = threading.Thread(target=store.lease, args=("database/creds/slow",), daemon=True)
    slow.start()
    try:
        assert entered.wait(TIMEOUT)
        done: list[Lease] = []
        other = threading.Thread(target=lambda: done.append(store.lease(PATH).current),
                                 daemon=True)
        other.start()
        other.join(TIMEOUT)
        assert [lease.path for lease in done] == [PATH]  # issued while the other one waits
    finally:
        release.set()
        slow.join(TIMEOUT)


def test_two_threads_asking_a_fresh_store_at_once_share_one_lease() -> None:
    store, server, _, _ = make()
    real = store._lease_lock  # the first lease() call of a store takes this lock
    waiting = threading.Semaphore(0)

    class Counting:
        def __enter__(self) -> None:
            waiting.release()
            real.acquire()

        def __exit__(self, *exc: object) -> None:
            real.release()

    store._lease_lock = Counting()  # type: ignore[assignment]
    handles: list[Lease] = []
    with real:  # both callers find no keeper yet, and wait for the lock
        threads = [threading.Thread(target=lambda: handles.append(store.lease(PATH).current),
                                    daemon=True) for _ in range(2)]
        for thread in threads:
            thread.start()
        assert waiting.acquire(timeout=TIMEOUT) and waiting.acquire(timeout=TIMEOUT)
    for thread in threads:
        thread.join(TIMEOUT)
    assert len(handles) == 2 and handles[0] is handles[1]
    assert server.lease_calls == ["issue"]


# -- the backend's upkeep --------------------------------------------------------------------


def test_an_upkeep_due_at_once_is_done_in_the_first_round_and_audited() -> None:
    store, server, _, events = make(start=0.0, upkeep_at=0.0, upkeep_period=50)
    store.lease(PATH)
    assert store.maintain_leases() == 20.0  # the renewal; the upkeep is next due at 50
    assert server.times("upkeep") == [0.0]
    assert [(e.operation, e.name, e.outcome) for e in events][-1] == (
        "lease_upkeep", None, "ok")


def test_an_upkeep_is_done_when_due_not_a_second_early() -> None:
    store, server, clock, _ = make(upkeep_at=1020.5, upkeep_period=100)
    store.lease(PATH)
    run_until(store, clock, 1021)
    assert server.times("renew") == [1020.0] and server.times("upkeep") == [1020.5]


def test_failed_upkeeps_back_off_doubling_and_start_over_after_a_success(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, "helium_secrets.leases")
    policy = LeasePolicy(jitter=0, background=False, min_retry=1, max_retry=8)
    store, server, clock, events = make(policy, ttl=10**4, max_ttl=10**5, upkeep_at=1010,
                                        upkeep_period=100)
    store.lease(PATH)
    server.upkeep_down = True
    run_until(store, clock, 1040)
    assert server.times("upkeep") == [1010, 1011, 1013, 1017, 1025, 1033]
    assert messages(caplog)[:3] == [
        f"the backend's upkeep for its leases failed (unavailable, attempt {n})"
        for n in (1, 2, 3)]
    assert {(e.operation, e.outcome) for e in events if e.name is None} == {
        ("lease_upkeep", "error")}
    server.upkeep_down = False
    run_until(store, clock, 1041)
    assert server.times("upkeep")[-1] == 1041  # done: next due at 1141
    server.upkeep_down = True
    run_until(store, clock, 1144)
    assert server.times("upkeep")[-3:] == [1141, 1142, 1144]  # 1 s, 2 s: counted anew
    assert messages(caplog)[-3:] == [
        f"the backend's upkeep for its leases failed (unavailable, attempt {n})"
        for n in (1, 2, 3)]


def test_with_every_lease_revoked_the_upkeep_is_no_longer_kept() -> None:
    store, server, clock, _ = make(upkeep_at=1010, upkeep_period=100)
    store.lease(PATH).revoke()
    clock.advance(20)
    assert store.maintain_leases() == INF
    assert server.times("upkeep") == []


# -- the redactor ----------------------------------------------------------------------------


def test_redaction_turned_on_later_masks_the_current_and_the_overlapping_credentials() -> None:
    import gc

    gc.collect()  # other tests' stores, left open, are sources of the redactor too
    store, _, clock, _ = make(ttl=30, renewable=False)
    handle = store.lease(PATH)
    first = handle.current["password"].reveal()
    run_until(store, clock, 1021)  # replaced at 1020; the first stays valid until 1030
    second = handle.current["password"].reveal()
    assert first != second
    redaction.install()
    try:
        masked = redaction.redactor.redact(f"{first} {second}")
        assert first not in masked and second not in masked
    finally:
        redaction.uninstall()


def test_credentials_that_ended_as_their_successor_was_issued_are_no_longer_masked() -> None:
    import gc

    gc.collect()
    redaction.install()
    try:
        store, server, clock, _ = make(ttl=30, renewable=False)
        handle = store.lease(PATH)
        first = handle.current
        server.renewable, server.issue_ttls = True, [15]
        run_until(store, clock, 1020)  # replaced at 1020 (first valid until 1030) by one of 15 s
        second = handle.current
        assert second.lease_id == f"{PATH}/2"
        server.revoked.append(second.lease_id)  # its renewal at 1030 is refused: replaced
        run_until(store, clock, 1030)
        assert handle.current.lease_id == f"{PATH}/3"
        assert server.times("issue")[-1] == 1030  # exactly when the first one ended
        old, overlapping = first["password"].reveal(), second["password"].reveal()
        for _ in range(2):  # and a redactor turned on again learns only what is valid
            assert redaction.redactor.redact(old) == old  # expired: let go of
            assert overlapping not in redaction.redactor.redact(overlapping)  # until 1035
            redaction.uninstall()
            redaction.install()
    finally:
        redaction.uninstall()


# -- the keeper's thread ---------------------------------------------------------------------


def _keepers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("helium-lease-keeper")]


def _wait_until(condition: Callable[[], bool]) -> bool:
    deadline = SystemClock().monotonic() + TIMEOUT
    while not condition():
        if SystemClock().monotonic() > deadline:
            return False
        threading.Event().wait(0.02)
    return True


def test_without_background_upkeep_no_thread_is_started() -> None:
    assert _keepers() == []
    store, _, _, _ = make()
    store.lease(PATH)
    store.lease("database/creds/other")
    assert _keepers() == []


def test_one_named_thread_renews_the_leases_on_the_real_clock_and_ends_with_the_store() -> None:
    clock = SystemClock()
    server = Service(clock, ttl=0.6, max_ttl=1000)
    store = SecretStore(server, lease=LeasePolicy(jitter=0), clock=clock,
                        retry=RetryPolicy(max_attempts=1))
    _opened.append(store)
    handle = store.lease(PATH)
    store.lease("database/creds/other")
    keepers = _keepers()
    assert [t.name for t in keepers] == ["helium-lease-keeper[leaseserver]"]
    # renewed every 0.4 s by the thread alone
    assert _wait_until(lambda: server.lease_calls.count("renew") >= 4), server.lease_calls
    assert handle.current.lease_id == f"{PATH}/1"
    store.close()
    assert not keepers[0].is_alive()
    assert sorted(server.revoked) == [f"{PATH}/1", "database/creds/other/2"]


# -- a forked child --------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs os.fork")
def test_a_forked_child_keeps_its_parents_lease_alive_and_never_revokes_it() -> None:
    store, server, clock, _ = make(LeasePolicy(jitter=0, background=True), ttl=30,
                                   max_ttl=1000)
    handle = store.lease(PATH)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 1
        try:
            signal.alarm(20)
            clock.advance(20)  # the parent's lease is due for renewal
            # the child's locks work, and its own keeper thread (woken by this new lease)
            # renews the parent's lease
            store.lease("database/creds/child")
            deadline = SystemClock().monotonic() + 10
            while "renew" not in server.lease_calls and SystemClock().monotonic() < deadline:
                threading.Event().wait(0.02)
            same = handle.current.lease_id == f"{PATH}/1"
            store.close()  # the parent's lease is the parent's to revoke
            os.write(write, repr((same, sorted(server.lease_calls), server.revoked)).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read) as answer:
        report = answer.read()
    assert os.waitstatus_to_exitcode(status) == 0, report
    assert report == repr((True, ["issue", "issue", "renew", "revoke"],
                           ["database/creds/child/2"]))


@pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs os.fork")
def test_a_forked_child_takes_a_first_lease_and_renews_what_registered_after_the_store() -> None:
    """A store with no lease yet renews its lease lock in the child (the first lease there
    takes it), and its at-fork hook lets the hooks after it run: a store built later, forked
    with a read in flight, still reads in the child instead of joining the lost fetch."""
    store, server, _, _ = make()  # no lease taken: no keeper
    backend = ControlledBackend()
    backend.write_external("a", "v1")
    later = SecretStore(backend, poll=PollPolicy(interval=None), guard=GuardPolicy(threshold=0))
    _opened.append(later)
    read, write = os.pipe()
    with ThreadPoolExecutor(1) as pool:
        hold = backend.hold("a")
        reading = pool.submit(later.get, "a")  # in flight while we fork
        hold.wait_entered()
        pid = os.fork()
        if pid == 0:  # the child: never return into pytest
            code = 1
            try:
                signal.alarm(20)  # a hang fails the test instead of blocking it
                lease_id = store.lease(PATH).current.lease_id
                value = later.get("a").value.reveal()
                os.write(write, repr((lease_id, value)).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write)
        _, status = os.waitpid(pid, 0)
        hold.release()
        assert reading.result(TIMEOUT).version == "1"
    with os.fdopen(read) as answer:
        report = answer.read()
    assert os.waitstatus_to_exitcode(status) == 0, f"the child failed or hung: {report!r}"
    assert report == repr((f"{PATH}/1", "v1"))
    assert server.lease_calls == [], "the child's lease is the child's"


def test_close_gives_up_waiting_for_a_keeper_stuck_in_a_renewal(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """A renewal stuck in the service delays ``close()`` by the keeper's limit (``STOP_WAIT``,
    10 s; a tenth of a second here), not for good, and the leases are still revoked."""
    monkeypatch.setattr(leases_module, "STOP_WAIT", 0.1)
    entered, release = threading.Event(), threading.Event()

    class StuckRenewal(Service):
        def renew_lease(self, lease_id: str, increment: float | None) -> LeaseGrant:
            entered.set()
            release.wait(TIMEOUT * 2)
            return super().renew_lease(lease_id, increment)

    clock = SystemClock()
    server = StuckRenewal(clock, ttl=60, max_ttl=1000)  # still valid when the store closes
    store = SecretStore(server, lease=LeasePolicy(jitter=0, renew_at=0.01), clock=clock,
                        retry=RetryPolicy(max_attempts=1))
    try:
        store.lease(PATH)
        assert entered.wait(TIMEOUT), "the keeper did not renew"
        (keeper,) = _keepers()
        closer = threading.Thread(target=store.close, name="closer")
        closer.start()
        closer.join(TIMEOUT)
        assert not closer.is_alive(), "close() waited for the stuck renewal without a limit"
        assert not release.is_set()
        assert server.revoked == [f"{PATH}/1"]
    finally:
        release.set()
        store.close()
    keeper.join(TIMEOUT)  # the stuck renewal returns to a closed store, and the thread ends
    assert not keeper.is_alive()
