"""Dynamic secrets on a virtual clock: when leases are renewed and replaced, the overlap, what
happens while the service is down, revocation, listeners and audit (never a credential)."""

from __future__ import annotations

import dataclasses
import gc
import itertools
import random
import secrets
from collections.abc import Iterator
from typing import ClassVar

import pytest

from helium_secrets import Lease, LeasePolicy, SecretStore, open_store
from helium_secrets.backends._base import LeaseGrant
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import (
    InvalidArgumentError,
    StoreClosedError,
    UnavailableError,
    UnsupportedError,
)
from helium_secrets.layers.audit import AuditEvent
from helium_secrets.layers.leases import next_action, retry_delay
from helium_secrets.layers.retry import RetryPolicy
from helium_secrets.testing import ManualClock

CANARY = "canary-lease-password-6f1d"
NO_JITTER = LeasePolicy(jitter=0.0, background=False)


class LeaseServer(MemoryBackend):
    """The fake, issuing leases on the test's clock: ``ttl`` per grant, ``max_ttl`` in all."""

    name: ClassVar[str] = "leaseserver"

    def __init__(self, clock: ManualClock, *, ttl: float = 30, max_ttl: float = 100) -> None:
        super().__init__()
        self.capabilities = dataclasses.replace(self.capabilities, leases=True)
        self.clock, self.ttl, self.max_ttl = clock, ttl, max_ttl
        self.ids = itertools.count(1)
        self.ends: dict[str, float] = {}  # lease id -> its maximum end
        self.expiry: dict[str, float] = {}  # lease id -> when it expires now
        self.revoked: list[str] = []
        self.lease_calls: list[str] = []
        self.down = False
        self.tag = secrets.token_hex(4)  # each server's credentials are its own

    def _up(self, call: str) -> None:
        self.lease_calls.append(call)
        if self.down:
            raise UnavailableError("the lease server is down")

    def issue_lease(self, path: str) -> LeaseGrant:
        self._up("issue")
        lease_id = f"{path}/{next(self.ids)}"
        now = self.clock.monotonic()
        self.ends[lease_id] = now + self.max_ttl
        self.expiry[lease_id] = now + self.ttl
        return LeaseGrant(lease_id, self.ttl, True,
                          {"username": f"user-{lease_id[-1]}",
                           "password": f"{CANARY}-{self.tag}-{lease_id}"})

    def renew_lease(self, lease_id: str, increment: float | None) -> LeaseGrant:
        self._up("renew")
        now = self.clock.monotonic()
        if lease_id in self.revoked or self.expiry[lease_id] <= now:
            raise InvalidArgumentError("lease not found or lease is not renewable")
        granted = min(increment or self.ttl, self.ends[lease_id] - now)
        self.expiry[lease_id] = now + granted
        return LeaseGrant(lease_id, granted, True)

    def revoke_lease(self, lease_id: str) -> None:
        self._up("revoke")
        self.revoked.append(lease_id)

    def valid(self, lease_id: str) -> bool:
        return lease_id not in self.revoked and self.expiry[lease_id] > self.clock.monotonic()


_opened: list[SecretStore] = []


@pytest.fixture(autouse=True)
def _close_stores() -> Iterator[None]:
    """Close what each test opened: an open store's keeper stays a source of the redactor."""
    yield
    while _opened:
        _opened.pop().close()


def make(policy: LeasePolicy = NO_JITTER, **server: float
         ) -> tuple[SecretStore, LeaseServer, ManualClock, list[AuditEvent]]:
    clock = ManualClock()
    backend = LeaseServer(clock, **server)
    events: list[AuditEvent] = []
    store = SecretStore(backend, lease=policy, clock=clock, audit=[events.append],
                        retry=RetryPolicy(max_attempts=1))
    _opened.append(store)
    return store, backend, clock, events


def run_until(store: SecretStore, clock: ManualClock, until: float) -> None:
    """Advance the virtual clock from due point to due point, doing the work of each."""
    while True:
        due = store.maintain_leases()
        if due > until:
            clock.advance(max(0.0, until - clock.monotonic()))
            return
        clock.advance(max(0.0, due - clock.monotonic()))


# -- the timing rules ------------------------------------------------------------------------


def test_renewal_points_fall_within_the_jitter_before_the_rule() -> None:
    policy = LeasePolicy(jitter=0.2)
    rng = random.Random(7)
    points = [next_action(policy, granted_at=100.0, duration=30.0, normal=30.0, extendable=True,
                          rng=rng) for _ in range(500)]
    assert {action for action, _ in points} == {"renew"}
    ats = [at for _, at in points]
    assert min(ats) >= 100 + 30 * (2 / 3) * 0.8 and max(ats) <= 100 + 30 * (2 / 3)
    assert max(ats) - min(ats) > 30 * (2 / 3) * 0.15  # really spread, not one point


def test_a_lease_that_cannot_be_extended_is_replaced_the_overlap_before_it_ends() -> None:
    policy = LeasePolicy(jitter=0.0, overlap=0.25)
    # capped: 12 s left of a lease normally granted 40 s: replace with 10 s of overlap
    assert next_action(policy, granted_at=0.0, duration=12.0, normal=40.0,
                       extendable=False) == ("reissue", 2.0)
    # less left than the overlap: replace at once
    assert next_action(policy, granted_at=5.0, duration=3.0, normal=40.0,
                       extendable=False) == ("reissue", 5.0)
    assert next_action(policy, granted_at=0.0, duration=0.0, normal=0.0,
                       extendable=True) == ("none", float("inf"))


def test_retries_double_but_stay_within_the_lease_life() -> None:
    policy = LeasePolicy(min_retry=1.0, max_retry=8.0)
    assert [retry_delay(policy, n, remaining=1000) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 8, 8]
    assert retry_delay(policy, 5, remaining=6.0) == 3.0  # never past half of what is left
    assert retry_delay(policy, 5, remaining=-1.0) == 8.0  # expired: keep trying, capped


@pytest.mark.parametrize("bad", [{"renew_at": 1.0}, {"overlap": 0.0}, {"jitter": 1.0},
                                 {"increment": 0}, {"min_retry": 5, "max_retry": 1}])
def test_a_policy_out_of_range_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="LeasePolicy"):
        LeasePolicy(**bad)  # type: ignore[arg-type]


# -- the keeper on a virtual clock -----------------------------------------------------------


def test_renewals_then_a_reissue_with_the_overlap_then_listeners_old_and_new() -> None:
    store, server, clock, _ = make(ttl=30, max_ttl=100)
    handle = store.lease("database/creds/app")
    first = handle.current
    changes: list[tuple[Lease, Lease]] = []
    handle.on_reissue(lambda old, new: changes.append((old, new)))
    start = clock.monotonic()

    run_until(store, clock, start + 95)
    # renewed at 20, 40, 60, 80 (each 2/3 of a 30 s grant); at 80 only 20 s were left of the
    # maximum: capped, so replaced 10 s (a third of 30 s) before its end at 100, at 90.
    assert server.lease_calls == ["issue", "renew", "renew", "renew", "renew", "issue"]
    assert len(changes) == 1
    old, new = changes[0]
    assert old.lease_id == first.lease_id and new.lease_id != first.lease_id
    assert handle.current == new and new["password"].reveal() != old["password"].reveal()
    assert server.valid(old.lease_id)  # the overlap: the old credentials still work
    run_until(store, clock, start + 101)
    assert not server.valid(old.lease_id) and server.valid(new.lease_id)


def test_two_callers_of_one_path_share_one_lease() -> None:
    store, server, _, _ = make()
    a, b = store.lease("database/creds/app"), store.lease("database/creds/app")
    assert a.current is b.current and server.lease_calls == ["issue"]
    store.lease("database/creds/other")
    assert server.lease_calls == ["issue", "issue"]


def test_close_revokes_every_lease_still_valid_and_none_twice() -> None:
    store, server, clock, _ = make(ttl=30, max_ttl=40)
    handle = store.lease("database/creds/app")
    first = handle.current.lease_id
    run_until(store, clock, clock.monotonic() + 35)  # replaced at 30; the first ends at 40
    second = handle.current.lease_id
    assert second != first
    store.close()
    assert sorted(server.revoked) == sorted([first, second])
    assert store.closed


def test_close_revokes_nothing_when_the_policy_says_so() -> None:
    store, server, _, _ = make(LeasePolicy(revoke_on_close=False, background=False))
    store.lease("database/creds/app")
    store.close()
    assert server.revoked == []


def test_revoke_ends_one_path_and_the_next_lease_call_issues_anew() -> None:
    store, server, _, _ = make()
    handle = store.lease("database/creds/app")
    lease_id = handle.current.lease_id
    handle.revoke()
    assert server.revoked == [lease_id]
    with pytest.raises(InvalidArgumentError, match="revoked"):
        _ = handle.current
    assert store.lease("database/creds/app").current.lease_id != lease_id


def test_renewals_go_on_while_the_service_is_down_and_resume_when_it_is_back() -> None:
    store, server, clock, _ = make(ttl=30, max_ttl=1000)
    handle = store.lease("database/creds/app")
    lease_id = handle.current.lease_id
    start = clock.monotonic()
    server.down = True
    run_until(store, clock, start + 28)  # renewal due at 20 fails; retried 1, 2, 4 s later...
    failed = server.lease_calls.count("renew")
    assert failed >= 3
    assert handle.current.lease_id == lease_id  # still valid: still served
    server.down = False
    run_until(store, clock, start + 29.9)
    assert server.lease_calls.count("renew") == failed + 1 and server.valid(lease_id)
    assert handle.current.lease_id == lease_id


def test_past_its_expiry_the_error_says_when_and_new_credentials_follow_the_outage() -> None:
    store, server, clock, _ = make(ttl=30, max_ttl=1000)
    handle = store.lease("database/creds/app")
    expires = handle.current.expires_at
    assert expires is not None
    server.down = True
    run_until(store, clock, clock.monotonic() + 45)
    with pytest.raises(UnavailableError) as caught:
        _ = handle.current
    message = str(caught.value)
    assert "expired at " + expires.isoformat(timespec="seconds") in message
    assert "unavailable" in message and CANARY not in message
    server.down = False
    run_until(store, clock, clock.monotonic() + 35)  # the renewal is refused: new ones issued
    assert handle.current.lease_id != "database/creds/app/1" and server.lease_calls[-1] in (
        "issue", "renew")
    assert server.valid(handle.current.lease_id)


def test_a_lease_the_service_forgot_is_replaced_at_once() -> None:
    store, server, clock, _ = make()
    handle = store.lease("database/creds/app")
    first = handle.current.lease_id
    server.revoked.append(first)  # revoked behind our back (an operator, a token revocation)
    run_until(store, clock, clock.monotonic() + 21)
    assert server.lease_calls == ["issue", "renew", "issue"] and handle.current.lease_id != first


def test_a_failing_listener_never_stops_the_others() -> None:
    store, _, clock, _ = make(ttl=30, max_ttl=30)
    handle = store.lease("database/creds/app")
    seen: list[str] = []

    def broken(old: Lease, new: Lease) -> None:
        raise RuntimeError("listener bug")

    handle.on_reissue(broken)
    handle.on_reissue(lambda old, new: seen.append(new.lease_id))
    run_until(store, clock, clock.monotonic() + 25)
    assert seen == [handle.current.lease_id]


def test_every_lease_call_is_audited_and_no_event_holds_a_credential() -> None:
    store, _, clock, events = make(ttl=30, max_ttl=60)
    handle = store.lease("database/creds/app")
    run_until(store, clock, clock.monotonic() + 50)
    last = handle.current
    store.close()
    with pytest.raises(StoreClosedError):
        _ = handle.current
    operations = [event.operation for event in events]
    assert operations[0] == "lease_issue" and "lease_renew" in operations
    assert "lease_reissue" in operations and operations[-1] == "lease_revoke"
    assert all(event.name == "database/creds/app" for event in events)
    shown = " ".join(repr(event) for event in events) + repr(handle) + repr(last) + str(last)
    assert CANARY not in shown


def test_bad_paths_and_backends_without_leases_fail_before_any_call() -> None:
    store, server, _, _ = make()
    for bad in ("", "/database/creds/app", "database//creds", "database/../sys", " x"):
        with pytest.raises(InvalidArgumentError):
            store.lease(bad)
    with pytest.raises(TypeError):
        store.lease(None)  # type: ignore[arg-type]
    assert server.lease_calls == []
    with open_store("mem://") as fake, pytest.raises(UnsupportedError, match="no leases"):
        fake.lease("database/creds/app")


def test_a_closed_store_issues_no_lease() -> None:
    store, server, _, _ = make()
    store.close()
    with pytest.raises(Exception, match="closed"):
        store.lease("database/creds/app")
    assert server.lease_calls == []


def test_the_redactor_masks_the_credentials_while_the_store_holds_them() -> None:
    from helium_secrets import redaction

    gc.collect()  # other tests' stores, left open, were issued the same values: gone first
    redaction.install()
    try:
        store, _, clock, _ = make(ttl=30, max_ttl=30)
        handle = store.lease("database/creds/app")
        first = handle.current["password"].reveal()
        assert first not in redaction.redactor.redact(f"connecting with {first}")
        run_until(store, clock, clock.monotonic() + 25)  # replaced; the old one still valid
        second = handle.current["password"].reveal()
        masked = redaction.redactor.redact(f"{first} {second}")
        assert first not in masked and second not in masked
        store.close()  # the store lets go of them: the redactor no longer holds them
        assert redaction.redactor.redact(second) == second
    finally:
        redaction.uninstall()


# -- the async twin ----------------------------------------------------------------------------


def test_the_async_twin_keeps_a_lease_alive_and_revokes_it_on_aclose() -> None:
    """The same keeper, awaited: renewals and the re-issue on the virtual clock, an async
    re-issue listener, and revocation by aclose."""
    import asyncio

    from helium_secrets import AsyncSecretStore
    from helium_secrets.backends.aio import DirectBackend

    async def main() -> None:
        clock = ManualClock()
        server = LeaseServer(clock, ttl=30, max_ttl=60)
        store = AsyncSecretStore(DirectBackend.wrap(server), lease=NO_JITTER, clock=clock,
                                 retry=RetryPolicy(max_attempts=1))
        handle = await store.lease("database/creds/app")
        assert await store.lease("database/creds/app") is not handle  # a handle, one lease
        first = handle.current
        reissued: list[tuple[str, str]] = []

        async def swap(old: Lease, new: Lease) -> None:
            await asyncio.sleep(0)
            reissued.append((old.lease_id, new.lease_id))

        handle.on_reissue(swap)
        while not reissued:
            due = await store.maintain_leases()
            clock.advance(max(0.0, due - clock.monotonic()))
        assert server.lease_calls.count("issue") == 2 and "renew" in server.lease_calls
        second = handle.current
        assert reissued == [(first.lease_id, second.lease_id)]
        assert not server.valid(first.lease_id)  # the loop above went past its end
        await store.aclose()
        assert server.revoked == [second.lease_id]  # what was still valid

    asyncio.run(main())
