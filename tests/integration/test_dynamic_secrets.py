"""Dynamic secrets end to end: OpenBao's database engine issuing PostgreSQL users with short
TTLs, the store renewing and replacing them, a client querying all the while, and the users
revoked afterwards (checked in ``pg_roles``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from helium_secrets import Lease, LeasePolicy, SecretStore, open_store
from helium_secrets.layers.audit import AuditEvent
from tests.backends.openbao import DevServer
from tests.integration import leasing
from tests.integration.postgres import PostgresServer

psycopg = pytest.importorskip("psycopg")

TTL, MAX_TTL = 4, 12  # seconds: several re-issues within half a minute


@pytest.fixture
def database_role(bao: DevServer, postgres: PostgresServer) -> Iterator[str]:
    """A database engine at a fresh mount with a role ``app``; yields ``MOUNT/creds/app``."""
    with leasing.database_role(bao, postgres, ttl=TTL, max_ttl=MAX_TTL) as path:
        yield path


def vault_store(bao: DevServer, events: list[AuditEvent]) -> SecretStore:
    return open_store(f"vault://127.0.0.1:{bao.port}/secret?tls=false", token=bao.root_token,
                      audit=[events.append], lease=LeasePolicy(min_retry=0.2, overlap=0.5))


def query(postgres: PostgresServer, lease: Lease) -> None:
    with psycopg.connect(host=postgres.host, port=postgres.port, dbname="postgres",
                         user=lease["username"].reveal(), password=lease["password"].reveal(),
                         connect_timeout=10) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_client_querying_through_several_reissues_never_fails_and_old_users_go(
    bao: DevServer, postgres: PostgresServer, database_role: str
) -> None:
    events: list[AuditEvent] = []
    store = vault_store(bao, events)
    handle = store.lease(database_role)
    reissues: list[tuple[Lease, Lease]] = []
    handle.on_reissue(lambda old, new: reissues.append((old, new)))
    users: set[str] = set()
    failures: list[str] = []
    queries = 0
    deadline = time.monotonic() + 2.6 * MAX_TTL
    while time.monotonic() < deadline:
        lease = handle.current  # a new connection reads the credentials of the moment
        users.add(lease["username"].reveal())
        try:
            query(postgres, lease)
            queries += 1
        except psycopg.Error as exc:
            failures.append(type(exc).__name__)
        time.sleep(0.05)
    store.close()
    assert failures == [] and queries > 50
    assert len(reissues) >= 2, "the lease was replaced before each maximum TTL"
    assert all(old.lease_id != new.lease_id for old, new in reissues)
    operations = {event.operation for event in events}
    assert {"lease_issue", "lease_renew", "lease_reissue", "lease_revoke"} <= operations
    assert [(e.operation, e.error_code) for e in events if e.outcome != "ok"] == []
    # The store revoked what was still valid; Vault dropped the expired users itself.
    assert leasing.wait_until_gone(postgres, users) == set()
    shown = " ".join(map(repr, events)) + repr(reissues)
    assert all(user not in shown for user in users)  # audit and reprs: no credential


def test_threads_asking_for_one_path_share_one_lease(
    bao: DevServer, database_role: str
) -> None:
    events: list[AuditEvent] = []
    with vault_store(bao, events) as store:
        got: list[Any] = []
        threads = [threading.Thread(target=lambda: got.append(store.lease(database_role)))
                   for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len({handle.current.lease_id for handle in got}) == 1
        assert [e.operation for e in events].count("lease_issue") == 1


def test_a_kv_path_is_not_a_lease_and_says_so(bao: DevServer) -> None:
    from helium_secrets.errors import InvalidArgumentError

    with vault_store(bao, []) as store:
        store.put("leases/not-one", "x" * 12)
        with pytest.raises(InvalidArgumentError, match="issues no lease"):
            store.lease("secret/data/leases/not-one")
