"""When to renew a lease and when to replace it: the I/O-free timing of dynamic secrets.

A lease granted for ``D`` seconds at ``t`` expires at ``t + D``. While the service extends it,
it is renewed once ``renew_at`` of the grant has passed. Once it cannot be extended (not
renewable, or a renewal granted less than asked for: the maximum TTL is near), new credentials
are issued ``overlap`` times the lease's normal duration before it expires, so that the old
credentials stay valid that long while the new ones take over. Jitter only ever moves a point
earlier, never past the rule. docs/dynamic-secrets.md has the worked example.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["LeasePolicy", "next_action", "retry_delay"]


@dataclass(frozen=True, slots=True)
class LeasePolicy:
    """How the store keeps the leases it issued alive.

    :param renew_at: renew once this fraction of the current grant has passed.
    :param overlap: once a lease cannot be extended, issue new credentials this fraction of
        its normal duration (its first grant) before it expires: the time during which both
        the old and the new credentials are valid.
    :param jitter: each point is moved earlier by a random fraction of up to this much of its
        delay, so that a fleet does not renew in step.
    :param increment: seconds asked for on each renewal (``None``: the lease's first duration).
    :param min_retry: after a failed renewal or issue, the first wait before trying again.
    :param max_retry: the longest wait between attempts while the service does not answer.
    :param revoke_on_close: revoke the leases this store issued when it is closed.
    :param background: keep leases alive from a background thread (``False``: only when
        :meth:`~helium_secrets.SecretStore.lease` handles are read; for tests on a virtual clock).
    """

    renew_at: float = 2 / 3
    overlap: float = 1 / 3
    jitter: float = 0.1
    increment: float | None = None
    min_retry: float = 1.0
    max_retry: float = 30.0
    revoke_on_close: bool = True
    background: bool = True

    def __post_init__(self) -> None:
        for field in ("renew_at", "overlap"):
            if not 0 < getattr(self, field) < 1:
                raise ValueError(f"LeasePolicy.{field} is a fraction in (0, 1)")
        if not 0 <= self.jitter < 1:
            raise ValueError("LeasePolicy.jitter is a fraction in [0, 1)")
        if self.increment is not None and self.increment <= 0:
            raise ValueError("LeasePolicy.increment must be positive or None")
        if not 0 < self.min_retry <= self.max_retry:
            raise ValueError("LeasePolicy needs 0 < min_retry <= max_retry")


def next_action(
    policy: LeasePolicy,
    *,
    granted_at: float,
    duration: float,
    normal: float,
    extendable: bool,
    rng: random.Random | None = None,
) -> tuple[str, float]:
    """What to do next for a lease granted ``duration`` seconds at ``granted_at``, and when.

    :param normal: the lease's normal duration (its first grant), which sets the overlap.
    :param extendable: a renewal can still extend it (renewable and not capped).
    :return: ``("renew", at)`` or ``("reissue", at)``, ``at`` on the same clock as
        ``granted_at``. A lease of duration 0 never expires: ``("none", inf)``.
    """
    if duration <= 0:
        return "none", float("inf")
    # Renew part-way through the grant; replace with the overlap left before the end.
    delay = (duration * policy.renew_at if extendable
             else max(0.0, duration - policy.overlap * normal))
    delay -= delay * policy.jitter * (rng or random).random()
    return ("renew" if extendable else "reissue"), granted_at + delay


def retry_delay(policy: LeasePolicy, failures: int, remaining: float) -> float:
    """The wait before the next attempt after ``failures`` failed ones in a row.

    Doubles from ``min_retry`` up to ``max_retry``, and while the lease is still valid never
    waits more than half of what is left of it, so that attempts go on within its life.
    """
    delay: float = min(policy.max_retry, policy.min_retry * 2.0 ** max(0, failures - 1))
    if remaining > 0:
        delay = min(delay, max(policy.min_retry / 10, remaining / 2))
    return delay
