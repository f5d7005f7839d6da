"""A secret's lifecycle, as its service describes it, and the audit of it (age, use, expiry).

A backend that can describe a secret implements the optional operation ``describe(name)``
(an :func:`~helium_secrets.backends.extra_operation`) from the service's own fields and returns
a :class:`Lifecycle`; :meth:`SecretStore.describe <helium_secrets.SecretStore.describe>` and
:meth:`SecretStore.audit <helium_secrets.SecretStore.audit>` call it. The audit's decisions
(:func:`evaluate`) are here, free of I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

__all__ = ["FIELDS", "PROBLEMS", "RECORDED_FIELDS", "AuditFinding", "AuditPolicy", "Lifecycle", "evaluate"]

#: The lifecycle fields a backend may fill (:attr:`Lifecycle.fields` says which it does).
FIELDS = ("created_at", "updated_at", "rotated_at", "next_rotation_at", "expires_at",
          "accessed_at", "rotation_enabled", "current_version", "versions")

#: What a store that keeps its own version records knows (the fake, the file store).
RECORDED_FIELDS = frozenset({"created_at", "updated_at", "current_version", "versions"})

#: What an audit can find, in the order reports list them.
PROBLEMS = ("expired", "expiring", "max_age", "unused", "rotation_overdue", "error")


@dataclass(frozen=True, slots=True)
class Lifecycle:
    """What the service says of a secret's life (never its value).

    A field the service does not track is ``None`` and absent from :attr:`fields`; a field in
    :attr:`fields` that is ``None`` is tracked but unset (never rotated, never accessed, no
    expiry).

    :param name: the portable name.
    :param fields: the fields of this class the backend fills from its service.
    :param created_at: when the secret was created.
    :param updated_at: when it last changed (its current version, or where the service says so,
        any change of it).
    :param rotated_at: when it was last rotated, where the service tracks rotations.
    :param next_rotation_at: when the service will rotate it next.
    :param expires_at: when it expires (or its current version is deleted).
    :param accessed_at: when it was last read, where the service tracks that (AWS: the day).
    :param rotation_enabled: whether the service rotates it on a schedule.
    :param current_version: the current version's id.
    :param versions: how many versions the service keeps.
    """

    name: str
    fields: frozenset[str]
    created_at: datetime | None = None
    updated_at: datetime | None = None
    rotated_at: datetime | None = None
    next_rotation_at: datetime | None = None
    expires_at: datetime | None = None
    accessed_at: datetime | None = None
    rotation_enabled: bool | None = None
    current_version: str | None = None
    versions: int | None = None

    def __post_init__(self) -> None:
        unknown = set(self.fields) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown lifecycle field(s): {', '.join(sorted(unknown))}")
        filled = {f for f in FIELDS if getattr(self, f) is not None}
        if not filled <= self.fields:
            raise ValueError(f"lifecycle field(s) filled but not declared in fields: "
                             f"{', '.join(sorted(filled - self.fields))}")

    @property
    def changed_at(self) -> tuple[datetime | None, str | None]:
        """When the value last changed and the field that says so: the last rotation where
        the service tracks one, else (derived) the last change, else the creation."""
        for name in ("rotated_at", "updated_at", "created_at"):
            when: datetime | None = getattr(self, name)
            if when is not None:
                return when, name
        return None, None


@dataclass(frozen=True, slots=True)
class AuditPolicy:
    """What an audit looks for; each limit in seconds, ``None`` to skip the check.

    :param max_age: the value is older than this (since its last rotation, else its last change).
    :param unused_for: not read for this long (a secret never read counts from its creation).
    :param expiring_within: it expires within this long (an expired one is ``expired``).
    """

    max_age: float | None = None
    unused_for: float | None = None
    expiring_within: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_age", "unused_for", "expiring_within"):
            limit = getattr(self, name)
            if limit is not None and (not isinstance(limit, (int, float)) or limit < 0):
                raise ValueError(f"AuditPolicy.{name} is a number of seconds, 0 or more")


@dataclass(frozen=True, slots=True)
class AuditFinding:
    """One secret's audit: its lifecycle, its age, and what the policy found.

    :param problems: a subset of :data:`PROBLEMS`, in that order.
    :param unknown: the checks the policy asked for that this backend cannot make (the field
        it needs is not tracked), e.g. ``("unused",)`` on a service that does not record reads.
    :param error: the error code when describing the secret failed (``problems`` is then
        ``("error",)``).
    """

    name: str
    lifecycle: Lifecycle | None
    age: float | None = None
    age_from: str | None = None
    problems: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    error: str | None = None


def _seconds(later: datetime, earlier: datetime) -> float:
    return (_aware(later) - _aware(earlier)).total_seconds()


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo is not None else when.replace(tzinfo=timezone.utc)


def evaluate(lifecycle: Lifecycle, policy: AuditPolicy, now: datetime) -> AuditFinding:
    """Audit one lifecycle against ``policy`` at ``now`` (no I/O)."""
    found: set[str] = set()
    unknown: list[str] = []
    changed, age_from = lifecycle.changed_at
    age = _seconds(now, changed) if changed is not None else None
    if policy.max_age is not None:
        if age is None:
            unknown.append("max_age")
        elif age > policy.max_age:
            found.add("max_age")
    if policy.unused_for is not None:
        if "accessed_at" not in lifecycle.fields:
            unknown.append("unused")
        else:
            since = lifecycle.accessed_at or lifecycle.created_at
            if since is None or _seconds(now, since) > policy.unused_for:
                found.add("unused")
    if lifecycle.expires_at is not None:
        left = _seconds(lifecycle.expires_at, now)
        if left <= 0:
            found.add("expired")
        elif policy.expiring_within is not None and left <= policy.expiring_within:
            found.add("expiring")
    elif policy.expiring_within is not None and "expires_at" not in lifecycle.fields:
        unknown.append("expiring")
    if (lifecycle.rotation_enabled and lifecycle.next_rotation_at is not None
            and _seconds(now, lifecycle.next_rotation_at) > timedelta(days=1).total_seconds()):
        found.add("rotation_overdue")  # a day late: the service's own schedule slipped
    return AuditFinding(name=lifecycle.name, lifecycle=lifecycle, age=age, age_from=age_from,
                        problems=tuple(p for p in PROBLEMS if p in found),
                        unknown=tuple(unknown))
