"""Dynamic secrets while Vault is down: an OpenBao server with raft storage, stopped for part
of a lease's life and started again (unsealed), with a client querying PostgreSQL throughout.

Renewal resumes when the server returns, without a failed query while the credentials are
valid; past their expiry, ``lease.current`` says that they expired and when, and new ones are
issued once the server is back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest

from helium_secrets import LeasedCredentials, LeasePolicy, SecretStore, open_store
from helium_secrets.errors import UnavailableError
from helium_secrets.layers.audit import AuditEvent
from helium_secrets.layers.retry import RetryPolicy
from tests.backends.openbao import PersistentServer
from tests.integration import leasing
from tests.integration.postgres import PostgresServer
from tests.integration.test_dynamic_secrets import query

psycopg = pytest.importorskip("psycopg")
pytestmark = pytest.mark.slow

#: Waits for something the test caused (the server's restart included): generous, never a
#: condition of the test.
PATIENCE = 60.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PersistentServer]:
    pytest.importorskip("hvac")
    with PersistentServer(tmp_path_factory.mktemp("bao-raft")) as bao:
        yield bao


def lease_store(server: PersistentServer, events: list[AuditEvent], renew_at: float = 2 / 3
                ) -> SecretStore:
    return open_store(f"vault://127.0.0.1:{server.port}/secret?tls=false",
                      token=server.root_token, audit=[events.append],
                      retry=RetryPolicy(max_attempts=2, deadline=5.0),
                      lease=LeasePolicy(renew_at=renew_at, min_retry=0.2, max_retry=1.0))


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE
    while not condition():
        assert time.monotonic() < deadline, f"no {what} in time"
        time.sleep(0.05)


def outcomes(events: list[AuditEvent], operation: str) -> list[str]:
    return [event.outcome for event in list(events) if event.operation == operation]


def test_renewal_resumes_when_vault_returns_without_a_failed_query(
    server: PersistentServer, postgres: PostgresServer
) -> None:
    # A 30 s lease renewed at a third of it: the outage spans the renewal point, and the
    # credentials stay valid through it (the server's restart takes seconds, not twenty).
    with leasing.database_role(server, postgres, ttl=30, max_ttl=300) as path:
        events: list[AuditEvent] = []
        store = lease_store(server, events, renew_at=0.3)
        handle = store.lease(path)
        first = handle.current
        failures: list[str] = []
        queries = 0
        stop = threading.Event()

        def client() -> None:
            nonlocal queries
            while not stop.is_set():
                try:
                    query(postgres, handle.current)
                    queries += 1
                except (psycopg.Error, UnavailableError) as exc:
                    failures.append(type(exc).__name__)
                time.sleep(0.05)

        worker = threading.Thread(target=client)
        worker.start()
        try:
            server.stop()
            wait_for(lambda: "error" in outcomes(events, "lease_renew"), "failed renewal")
            server.start()  # the same storage, unsealed again
            wait_for(lambda: outcomes(events, "lease_renew")[-1:] == ["ok"],
                     "renewal after the restart")
        finally:
            stop.set()
            worker.join(PATIENCE)
            if server.process is None:
                server.start()
        renewed = handle.current
        store.close()
    assert failures == [] and queries > 10
    assert renewed.lease_id == first.lease_id, "renewed, not replaced"
    assert renewed.expires_at is not None and first.expires_at is not None
    assert renewed.expires_at > first.expires_at
    errors = {event.error_code for event in events if event.outcome != "ok"}
    assert errors == {"unavailable"}


def test_past_the_expiry_the_error_says_when_and_new_credentials_follow_the_return(
    server: PersistentServer, postgres: PostgresServer
) -> None:
    with leasing.database_role(server, postgres, ttl=4, max_ttl=300) as path:
        events: list[AuditEvent] = []
        store = lease_store(server, events)
        handle = store.lease(path)
        first = handle.current
        assert first.expires_at is not None
        failures: list[str] = []
        server.stop()
        try:
            while True:  # queries go on while the credentials are valid
                try:
                    lease = handle.current
                except UnavailableError as exc:
                    message = str(exc)
                    break
                try:
                    query(postgres, lease)
                except psycopg.Error as exc:
                    failures.append(type(exc).__name__)
                time.sleep(0.05)
        finally:
            server.start()
        assert failures == []
        assert ("expired at " + first.expires_at.isoformat(timespec="seconds")) in message
        assert "no new ones could be issued" in message and "unavailable" in message
        assert first["password"].reveal() not in message
        # Back: the expired lease cannot be renewed, so new credentials are issued.
        wait_for(lambda: _current_id(handle) not in (None, first.lease_id), "new credentials")
        query(postgres, handle.current)
        store.close()


def _current_id(handle: LeasedCredentials) -> str | None:
    try:
        return handle.current.lease_id
    except UnavailableError:
        return None
