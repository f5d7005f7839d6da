"""The token the leases hang on (Vault: leases are the token's children), kept alive by the
lease keeper's one schedule, on the virtual clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from helium_secrets import SecretStore
from helium_secrets.layers.retry import RetryPolicy
from helium_secrets.testing import ManualClock
from tests.unit.test_leases import NO_JITTER, LeaseServer, run_until


class TokenLeaseServer(LeaseServer):
    """Leases that die with the token that issued them (Vault's rule), the token renewed on
    the way of any call once two thirds of its TTL have passed (as the Vault backend does)."""

    def __init__(self, clock: ManualClock, *, token_ttl: float, **kw: float) -> None:
        super().__init__(clock, **kw)
        self.token_ttl = token_ttl
        self.token_expires = clock.monotonic() + token_ttl
        self.renew_token_at = clock.monotonic() + token_ttl * 2 / 3
        self.token_renewals = 0
        self.upkeep_calls = 0

    def _up(self, call: str) -> None:
        super()._up(call)
        now = self.clock.monotonic()
        assert now < self.token_expires, "the token expired: Vault revoked its leases"
        if now >= self.renew_token_at:
            self.token_renewals += 1
            self.token_expires, self.renew_token_at = now + self.token_ttl, now + (
                self.token_ttl * 2 / 3)

    def lease_upkeep_due(self) -> float:
        return max(0.0, self.renew_token_at - self.clock.monotonic())

    def lease_upkeep(self) -> None:
        self.upkeep_calls += 1
        self._up("upkeep")


TokenStores = Callable[[float], tuple[SecretStore, "TokenLeaseServer", ManualClock]]


@pytest.fixture
def token_store() -> Iterator[TokenStores]:
    """Stores on a :class:`TokenLeaseServer` with the given token TTL, closed afterwards."""
    opened: list[SecretStore] = []

    def make(token_ttl: float) -> tuple[SecretStore, TokenLeaseServer, ManualClock]:
        clock = ManualClock()
        backend = TokenLeaseServer(clock, token_ttl=token_ttl, ttl=30, max_ttl=1000)
        opened.append(SecretStore(backend, lease=NO_JITTER, clock=clock,
                                  retry=RetryPolicy(max_attempts=1)))
        return opened[-1], backend, clock

    yield make
    for store in opened:
        store.close()


def test_a_token_longer_lived_than_the_renewals_needs_no_upkeep_call_of_its_own(
    token_store: TokenStores,
) -> None:
    store, server, clock = token_store(60)
    store.lease("database/creds/app")
    # Lease renewals every 20 s carry the token's renewal (due every 40 s) on their way.
    run_until(store, clock, clock.monotonic() + 500)
    assert server.token_renewals >= 10 and server.upkeep_calls == 0
    assert server.lease_calls.count("issue") == 1


def test_a_token_shorter_lived_than_the_renewals_is_kept_alive_by_the_keeper(
    token_store: TokenStores,
) -> None:
    store, server, clock = token_store(6)
    store.lease("database/creds/app")
    # Lease renewals every 20 s; the token needs one every 4 s.
    run_until(store, clock, clock.monotonic() + 100)
    assert server.token_renewals >= 20
    # One upkeep per token renewal that no lease call made on the way: never both.
    assert server.upkeep_calls + server.lease_calls.count("renew") >= server.token_renewals
    assert server.upkeep_calls <= server.token_renewals
