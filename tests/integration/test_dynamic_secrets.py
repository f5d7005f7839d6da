"""Dynamic secrets end to end: OpenBao's database engine issuing PostgreSQL users with short
TTLs, the store renewing and replacing them, a client querying all the while, and the users
revoked afterwards (checked in ``pg_roles``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import pytest

from helium_secrets import Lease, LeasePolicy, SecretStore, SecretValue, open_store
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


# -- helium-secrets run --lease ----------------------------------------------------------------

LEASE_CHILD = """
import os, sys, psycopg
user, password = os.environ['DB_USERNAME'], os.environ['DB_PASSWORD']
with open(os.path.join(sys.argv[1], str(os.getpid())), 'w') as f:
    f.write(user + ' ' + password)  # for the test, never through the CLI's output
with psycopg.connect(host=sys.argv[2], port=int(sys.argv[3]), dbname='postgres', user=user,
                     password=password, connect_timeout=10) as conn:
    conn.execute('SELECT 1')
print(os.getpid(), 'connected', flush=True)
print(user, password, flush=True)  # the CLI masks both
import time; time.sleep(120)
"""


def cli_env(bao: DevServer) -> dict[str, str]:
    import os

    return dict(os.environ, HELIUM_SECRETS_URL=f"vault://127.0.0.1:{bao.port}/secret?tls=false",
                VAULT_TOKEN=bao.root_token)


def test_run_watch_restarts_the_child_with_new_credentials_at_each_reissue(
    bao: DevServer, postgres: PostgresServer, database_role: str, tmp_path: Any
) -> None:
    import signal
    import sys

    from helium_secrets.cli._mask import MASK
    from tests.unit.test_cli_run import Cli

    cli = Cli("run", "--watch", "--lease", f"DB={database_role}", "--", sys.executable, "-c",
              LEASE_CHILD, str(tmp_path), postgres.host, str(postgres.port), env=cli_env(bao))
    seen, shown = [], []
    for _ in range(3):  # the first child, then one per re-issue (about every 10 s)
        pid, connected = cli.line().split()
        assert connected == "connected"  # the new credentials were issued before the restart
        seen.append(pid)
        shown.append(cli.line())
    assert shown == [f"{MASK.decode()} {MASK.decode()}"] * 3
    cli.proc.send_signal(signal.SIGTERM)
    assert cli.wait() == 128 + signal.SIGTERM
    assert cli.stderr.count(f"restarting the command: {database_role} re-issued") >= 2
    credentials = [(tmp_path / pid).read_text().split() for pid in seen]
    users = {user for user, _ in credentials}
    assert len(users) == 3, "each child got the credentials of a new lease"
    output = cli.stderr + " ".join(shown)
    assert not any(user in output or password in output for user, password in credentials)
    # The CLI revoked the leases it held when it exited (the older ones expired by themselves).
    assert leasing.wait_until_gone(postgres, users) == set()


def test_run_in_exec_mode_hands_over_the_lease_unrevoked(
    bao: DevServer, postgres: PostgresServer, database_role: str
) -> None:
    import json
    import subprocess
    import sys

    code = "import os, json; print(json.dumps({k: os.environ[k] for k in ('DB_USERNAME', 'DB_PASSWORD')}))"
    done = subprocess.run([sys.executable, "-m", "helium_secrets", "run", "--debug", "--lease",
                           f"DB={database_role}", "--", sys.executable, "-c", code],
                          env=cli_env(bao), capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    env = json.loads(done.stdout)
    # The command outlives the CLI (it replaced it): its credentials work after it is gone.
    query(postgres, Lease(path=database_role, lease_id="", credentials={
        "username": SecretValue(env["DB_USERNAME"]), "password": SecretValue(env["DB_PASSWORD"])},
        duration=0, renewable=False, issued_at=datetime.now(timezone.utc), expires_at=None))
    assert "lease_issue" in done.stderr  # --debug logs the calls
    assert env["DB_PASSWORD"] not in done.stderr and env["DB_USERNAME"] not in done.stderr


# -- the token's lease and the credentials' leases: one upkeep, no duplicate work --------------


def recording_store(bao: DevServer, ttl: str, events: list[AuditEvent]
                    ) -> tuple[SecretStore, list[str]]:
    """A store whose token lives ``ttl``, and the path of every request it sends (as its
    HTTP session sends them)."""
    import json

    import hvac

    created = json.loads(bao.cli("token", "create", "-format=json", f"-ttl={ttl}",
                                 "-explicit-max-ttl=1h", "-policy=root"))
    client = hvac.Client(f"http://127.0.0.1:{bao.port}", token=created["auth"]["client_token"])
    sent: list[str] = []
    client.adapter.session.hooks["response"].append(
        lambda response, **_: sent.append(response.request.path_url.removeprefix("/v1/")))
    store = open_store(f"vault://127.0.0.1:{bao.port}/secret?tls=false", client=client,
                       audit=[events.append], lease=LeasePolicy(min_retry=0.2, overlap=0.5))
    return store, sent


def test_the_keepers_calls_keep_the_token_alive_and_nothing_is_renewed_twice(
    bao: DevServer, database_role: str
) -> None:
    """A token of 15 s, leases of 4 s: the lease renewals (every few seconds) carry the
    token's renewal when it is due, once per two thirds of its TTL, with no schedule of its
    own; two handles on one path make one lease and one series of renewals."""
    events: list[AuditEvent] = []
    store, paths = recording_store(bao, "15s", events)
    first, second = store.lease(database_role), store.lease(database_role)
    time.sleep(2.2 * MAX_TTL)  # the token's own TTL passes almost twice
    assert first.current is second.current
    backend = store.backend
    token_renewals = backend.renewals  # type: ignore[attr-defined]
    store.close()
    renew_self = paths.count("auth/token/renew-self")
    lease_renewals = paths.count("sys/leases/renew")
    assert [e.outcome for e in events if e.outcome != "ok"] == []
    # The token lived past its TTL: it was renewed, by the calls the keeper made anyway.
    assert renew_self == token_renewals >= 2
    # Once per two thirds of its TTL at most (26 s / 10 s), not once per lease renewal.
    assert renew_self <= 3 < lease_renewals
    # Each renewal the keeper made reached OpenBao once (none twice, none hidden), and the
    # two handles made one series: about four renewals per 12 s lease (a third of a 4 s grant
    # apart, until capped), not eight.
    operations = [e.operation for e in events]
    issued = operations.count("lease_issue") + operations.count("lease_reissue")
    assert lease_renewals == operations.count("lease_renew")
    assert paths.count(database_role) == issued
    assert lease_renewals <= 5 * issued, (lease_renewals, issued)


def test_a_token_shorter_lived_than_the_renewal_interval_is_kept_alive_with_its_leases(
    bao: DevServer, postgres: PostgresServer
) -> None:
    events: list[AuditEvent] = []
    with leasing.database_role(bao, postgres, ttl=30, max_ttl=300) as path:
        store, sent = recording_store(bao, "6s", events)
        handle = store.lease(path)  # renewed at 20 s; the token would expire at 6 s
        lease = handle.current
        time.sleep(10)
        try:
            alive = bao.request("PUT", "sys/leases/lookup", json={"lease_id": lease.lease_id})
            assert alive.json()["data"]["ttl"] > 0
            query(postgres, handle.current)  # the user Vault issued still exists
            assert "auth/token/renew-self" in sent
        finally:
            store.close()


def test_the_vault_backend_says_when_its_token_needs_upkeep_and_does_it_only_then(
    bao: DevServer,
) -> None:
    events: list[AuditEvent] = []
    store, sent = recording_store(bao, "3s", events)
    backend: Any = store.backend
    try:
        assert backend.lease_upkeep_due() == float("inf")  # no token loaded yet
        backend.lease_upkeep()  # loads it (a plain token: looked up, not renewed)
        due = backend.lease_upkeep_due()
        assert 0 < due <= 2.0 and backend.renewals == 0
        before = len(sent)
        backend.lease_upkeep()  # not due: nothing is sent
        assert len(sent) == before
        time.sleep(due)
        assert backend.lease_upkeep_due() == 0
        backend.lease_upkeep()
        assert backend.renewals == 1 and sent[-1] == "auth/token/renew-self"
        assert backend.lease_upkeep_due() > 1.0
    finally:
        store.close()


# -- canaries: no credential in any log, error, audit event or repr ----------------------------


def test_no_credential_in_debug_logs_errors_audit_events_or_reprs(
    bao: DevServer, database_role: str
) -> None:
    """Issue, renewals, a re-issue, revocation and errors, with every logger (hvac's and
    urllib3's included) at DEBUG and the redaction filter installed."""
    from helium_secrets.errors import HeliumError
    from helium_secrets.testing.conformance import debug_logs

    events: list[AuditEvent] = []
    leases: list[Lease] = []
    shown: list[str] = []
    with debug_logs() as logs:
        store = vault_store(bao, events)
        handle = store.lease(database_role)
        leases.append(handle.current)
        reissued = threading.Event()

        def on_reissue(old: Lease, new: Lease) -> None:
            leases.append(new)
            reissued.set()

        handle.on_reissue(on_reissue)
        assert reissued.wait(3 * MAX_TTL), "no re-issue in time"
        for bad in (f"{database_role}-nope", "secret/data/not-a-lease"):
            with pytest.raises(HeliumError) as caught:
                store.lease(bad)
            shown += [str(caught.value), repr(caught.value)]
        shown += [repr(handle), *map(repr, leases), *map(str, leases)]
        handle.revoke()
        with pytest.raises(HeliumError) as revoked:
            _ = handle.current
        shown.append(str(revoked.value))
        store.close()
    shown += [repr(event) for event in events] + logs
    assert {"lease_issue", "lease_renew", "lease_reissue", "lease_revoke"} <= {
        e.operation for e in events}
    text = "\n".join(shown)
    assert "sys/leases/renew" in text  # the SDKs' debug lines were captured
    for lease in leases:
        for value in lease.credentials.values():
            assert value.reveal() not in text


def test_the_async_twin_issues_renews_and_revokes_through_the_native_async_vault_backend(
    bao: DevServer, postgres: PostgresServer, database_role: str
) -> None:
    pytest.importorskip("httpx")
    import asyncio

    import requests

    from helium_secrets import open_async_store
    from helium_secrets.backends.hashivault.aio import AsyncVaultBackend

    events: list[AuditEvent] = []

    async def scenario() -> str:
        store = open_async_store(f"vault://127.0.0.1:{bao.port}/secret?tls=false",
                                 token=bao.root_token, audit=[events.append],
                                 lease=LeasePolicy(min_retry=0.2, overlap=0.5))
        async with store:
            assert isinstance(store.backend, AsyncVaultBackend)
            handle = await store.lease(database_role)
            first = handle.current
            await asyncio.to_thread(query, postgres, first)  # the credentials work
            deadline = time.monotonic() + 2 * TTL
            while time.monotonic() < deadline:  # the keeper's task renews meanwhile
                await asyncio.sleep(0.2)
            await asyncio.to_thread(query, postgres, handle.current)
            return handle.current.lease_id

    lease_id = asyncio.run(scenario())
    operations = [event.operation for event in events]
    assert operations[0] == "lease_issue" and "lease_renew" in operations
    assert operations[-1] == "lease_revoke"  # aclose revoked what it issued
    with pytest.raises(requests.HTTPError):
        bao.request("PUT", "sys/leases/lookup", json={"lease_id": lease_id})
