"""The lifecycle audit: its I/O-free decisions (``evaluate``) and ``store.describe`` /
``store.audit`` on the fake, whose clock decides every date."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from helium_secrets import RetryPolicy, SecretStore
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.errors import SecretNotFoundError, UnsupportedError
from helium_secrets.lifecycle import FIELDS, AuditPolicy, Lifecycle, evaluate

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
DAY = 86400.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def test_age_comes_from_the_last_rotation_else_the_last_change() -> None:
    rotated = Lifecycle("a", frozenset({"rotated_at", "updated_at"}), rotated_at=T0,
                        updated_at=T0 + timedelta(days=5))
    finding = evaluate(rotated, AuditPolicy(max_age=9 * DAY), T0 + timedelta(days=10))
    assert (finding.age, finding.age_from, finding.problems) == (10 * DAY, "rotated_at",
                                                                 ("max_age",))
    derived = Lifecycle("a", frozenset({"updated_at"}), updated_at=T0 + timedelta(days=5))
    finding = evaluate(derived, AuditPolicy(max_age=9 * DAY), T0 + timedelta(days=10))
    assert (finding.age_from, finding.problems) == ("updated_at", ())


def test_unused_expiring_expired_overdue_and_unknown() -> None:
    now = T0 + timedelta(days=100)
    never_read = Lifecycle("a", frozenset({"accessed_at", "created_at"}), created_at=T0)
    assert evaluate(never_read, AuditPolicy(unused_for=90 * DAY), now).problems == ("unused",)
    assert evaluate(never_read, AuditPolicy(unused_for=120 * DAY), now).problems == ()
    read = Lifecycle("a", frozenset({"accessed_at", "created_at"}), created_at=T0,
                     accessed_at=now - timedelta(days=1))
    assert evaluate(read, AuditPolicy(unused_for=90 * DAY), now).problems == ()
    untracked = Lifecycle("a", frozenset({"created_at"}), created_at=T0)
    finding = evaluate(untracked, AuditPolicy(unused_for=DAY, expiring_within=DAY), now)
    assert (finding.problems, finding.unknown) == ((), ("unused", "expiring"))
    expiring = Lifecycle("a", frozenset({"expires_at"}), expires_at=now + timedelta(days=3))
    assert evaluate(expiring, AuditPolicy(expiring_within=7 * DAY), now).problems == (
        "expiring",)
    assert evaluate(expiring, AuditPolicy(expiring_within=DAY), now).problems == ()
    expired = Lifecycle("a", frozenset({"expires_at"}), expires_at=now - timedelta(days=3))
    assert evaluate(expired, AuditPolicy(), now).problems == ("expired",)
    overdue = Lifecycle("a", frozenset({"rotation_enabled", "next_rotation_at"}),
                        rotation_enabled=True, next_rotation_at=now - timedelta(days=2))
    assert evaluate(overdue, AuditPolicy(), now).problems == ("rotation_overdue",)


def test_a_lifecycle_declares_what_it_fills() -> None:
    with pytest.raises(ValueError, match="not declared"):
        Lifecycle("a", frozenset(), created_at=T0)
    with pytest.raises(ValueError, match="unknown lifecycle field"):
        Lifecycle("a", frozenset({"colour"}))
    with pytest.raises(ValueError, match="seconds"):
        AuditPolicy(max_age=-1)
    assert set(FIELDS) == set(Lifecycle.__dataclass_fields__) - {"name", "fields"}


def test_describe_and_audit_on_the_fake() -> None:
    clock = Clock()
    store = SecretStore(MemoryBackend(clock=clock), cache=None)
    store.put("app/db", "one")
    clock.now = T0 + timedelta(days=10)
    store.put("app/db", "two")
    store.put("app/idle", "x")
    clock.now = T0 + timedelta(days=20)
    store.get("app/db")
    described = store.describe("app/db")
    assert (described.created_at, described.updated_at, described.accessed_at) == (
        T0, T0 + timedelta(days=10), T0 + timedelta(days=20))
    assert (described.current_version, described.versions) == ("2", 2)
    findings = {f.name: f for f in store.audit(
        "app/", AuditPolicy(max_age=5 * DAY, unused_for=5 * DAY), now=T0 + timedelta(days=21))}
    assert findings["app/db"].problems == ("max_age",)
    assert findings["app/idle"].problems == ("max_age", "unused")
    with pytest.raises(SecretNotFoundError):
        store.describe("app/missing")


def test_audit_reports_an_error_per_secret_and_refuses_a_backend_that_cannot_describe() -> None:
    backend = MemoryBackend()
    store = SecretStore(backend, cache=None, retry=RetryPolicy.never())
    store.put("a", "1")
    store.put("b", "2")
    backend.fail_next(1, operations=["describe"])
    findings = store.audit()
    assert [(f.name, f.problems, f.error) for f in findings] == [
        ("a", ("error",), "unavailable"), ("b", (), None)]

    class Blind(MemoryBackend):
        describe = None  # type: ignore[assignment]

    blind = SecretStore(Blind(), cache=None)
    with pytest.raises(UnsupportedError, match="cannot describe"):
        blind.audit()
