"""The Django integration against a real PostgreSQL server: a password rotation in the middle
of traffic, served by a real WSGI server, costs helium's engine no request, persistent
connections included, while the peers' approach (the password read into ``DATABASES`` at
start-up) fails from the rotation on."""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("django")
pytest.importorskip("psycopg")

from helium_secrets import SecretStore
from helium_secrets.backends.memory import MemoryBackend
from tests.integration import djangosite
from tests.integration.postgres import PostgresServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(postgres: PostgresServer) -> Iterator[str]:
    djangosite.configure(postgres)
    with djangosite.serve() as base:
        yield base


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=120) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, None


def _rotate(pg: PostgresServer, n: int) -> None:
    """What a rotation job does: write the new password, then set it on the server (which
    revokes the old one). The rotator's store is not the application's."""
    rotator = SecretStore(djangosite.BACKEND)
    rotator.put("app/db", json.dumps({"username": "app", "password": djangosite.password(n)}))
    pg.admin(f"ALTER ROLE app PASSWORD '{djangosite.password(n)}'")
    rotator.close()


def test_a_rotation_in_the_middle_of_traffic_costs_no_request(
    site: str, postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    version_before = djangosite.APP_STORE.get("app/db").version
    rotated = threading.Event()
    halfway = threading.Event()

    def rotate_halfway() -> None:
        halfway.wait(120)
        _rotate(postgres, 2)
        rotated.set()

    rotation = threading.Thread(target=rotate_halfway)
    rotation.start()
    statuses: list[int] = []
    pids: dict[str, list[int]] = {"before": [], "during": [], "after": []}
    peer: dict[str, list[int]] = {"before": [], "during": [], "after": []}
    caplog.set_level(logging.DEBUG)
    while len(pids["after"]) < 20:
        # The phase a request began in: before the rotation started, or after it ended.
        phase = "after" if rotated.is_set() else "during" if halfway.is_set() else "before"
        status, body = _get(site + "/query")
        statuses.append(status)
        peer_status, _ = _get(site + "/peer")
        peer[phase].append(peer_status)
        if status == 200:
            pids[phase].append(body["pid"])
        if len(statuses) == 10:
            halfway.set()
        if len(statuses) > 500:
            break  # the rotation never ended: the asserts below say what went wrong
    rotation.join(120)

    failed = len(statuses) - statuses.count(200)
    assert failed == 0, f"{failed} of {len(statuses)} requests failed"
    # The application learned of the rotation from the refused password, and its persistent
    # connection was replaced by one made with the new password.
    assert djangosite.APP_STORE.get("app/db").version != version_before
    assert len(set(pids["before"])) == 1, "one persistent connection before the rotation"
    assert pids["after"][-1] not in pids["before"], "replaced after the rotation"
    # The peers' approach: fine before, refused from the rotation on.
    assert set(peer["before"]) == {200}
    assert set(peer["after"]) == {500}
    for n in (1, 2):
        assert djangosite.password(n) not in caplog.text


def _wrapper(password: str, **changes: Any) -> Any:
    """A fresh connection to the ``app`` database (not shared with the site's threads)."""
    from django.db import connections

    from helium_secrets.integrations.django import secret
    from helium_secrets.integrations.django.postgresql.base import DatabaseWrapper

    backend = MemoryBackend()
    backend.write_external("app/db", json.dumps({"password": password}))
    store = SecretStore(backend)
    settings_dict = {**connections.settings["fresh"],
                     "PASSWORD": secret("app/db", field="password", store=store), **changes}
    return DatabaseWrapper(settings_dict, alias="helium-unit"), backend, store


def test_wrong_credentials_without_a_newer_version_raise_the_servers_refusal(
    site: str, postgres: PostgresServer
) -> None:
    from django.db import OperationalError

    wrapper, backend, _ = _wrapper("not-the-password")
    with pytest.raises(OperationalError, match="password authentication failed") as caught:
        wrapper.ensure_connection()
    assert backend.calls["get"] == 2  # the first read, and the one refresh: no loop
    assert "not-the-password" not in str(caught.value)


def test_other_connection_failures_do_not_refresh(site: str, postgres: PostgresServer) -> None:
    from django.db import OperationalError

    from tests.backends.openbao import free_port

    wrapper, backend, _ = _wrapper("any", PORT=str(free_port()))  # nobody listens there
    with pytest.raises(OperationalError):
        wrapper.ensure_connection()
    assert backend.calls["get"] == 1  # not an authentication failure: no refresh


def test_every_new_connection_reads_the_current_password(site: str,
                                                         postgres: PostgresServer) -> None:
    current = djangosite.APP_STORE.get_json("app/db", "password")
    wrapper, _, store = _wrapper(current)
    wrapper.ensure_connection()
    assert wrapper.helium_versions == {"app/db": "1"}
    wrapper.close()
    store.put("app/db", json.dumps({"password": current}))  # a new version, the same password
    wrapper.ensure_connection()
    assert wrapper.helium_versions == {"app/db": "2"}
    wrapper.close()


def test_a_pool_is_refused(site: str) -> None:
    from django.core.exceptions import ImproperlyConfigured

    wrapper, _, _ = _wrapper("x", OPTIONS={"pool": True})
    with pytest.raises(ImproperlyConfigured, match="pool"):
        wrapper.get_connection_params()


def test_the_system_check_reports_unreadable_secrets(site: str) -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError
    from django.test import override_settings

    from helium_secrets.integrations.django import secret

    call_command("check", tags=["helium_secrets"])  # the site's own secrets are readable
    store = djangosite.APP_STORE
    with override_settings(API_KEY=secret("app/missing", store=store),
                           OTHER=[{"K": secret("app/db", field="nope", store=store)}]), \
            pytest.raises(SystemCheckError) as caught:
        call_command("check", tags=["helium_secrets"])
    text = str(caught.value)
    assert "helium_secrets.E001" in text and "API_KEY: secret('app/missing')" in text
    assert "not_found" in text and "OTHER[0].K" in text and "'nope'" in text
    assert djangosite.password(1) not in text and djangosite.password(2) not in text


def test_the_app_watches_the_databases_secrets(site: str) -> None:
    assert "app/db" in djangosite.APP_STORE.rotation.watched()


def test_dbshell_gets_the_current_password_and_copies_keep_the_reference(site: str) -> None:
    import copy

    from django.db import connections

    wrapper, _, _ = _wrapper("canary-dbshell-password")
    _, env = wrapper.client.settings_to_cmd_args_env(wrapper.settings_dict, [])
    assert env == {"PGPASSWORD": "canary-dbshell-password"}
    copied = copy.deepcopy(wrapper.settings_dict)
    assert copied["PASSWORD"] is wrapper.settings_dict["PASSWORD"]
    assert copy.deepcopy(connections.settings["default"])["PASSWORD"].store is djangosite.APP_STORE


def test_djangos_test_runner_creates_its_database_with_the_secret_credentials(site: str) -> None:
    from django.db import connections
    from django.test.utils import setup_databases, teardown_databases

    created = setup_databases(verbosity=0, interactive=False, aliases={"fresh"})
    try:
        with connections["fresh"].cursor() as cursor:
            cursor.execute("SELECT current_database(), current_user")
            assert cursor.fetchone() == ("test_app", "app")
    finally:
        teardown_databases(created, verbosity=0)
    assert connections["fresh"].settings_dict["NAME"] == "app"


# -- leased credentials (dynamic secrets) ----------------------------------------------------

LEASE_TTL, LEASE_MAX_TTL = 4, 12  # seconds: a re-issue every ~10 s


def test_leased_users_replaced_in_the_middle_of_traffic_cost_no_request(
    site: str, bao: Any, postgres: PostgresServer, caplog: pytest.LogCaptureFixture
) -> None:
    """OpenBao's database engine issues a user per lease; the engine connects with the
    current one, and its persistent connection moves to the new user at the request after
    each re-issue, while requests go on without a failure."""
    import time

    from django.db import connections

    from helium_secrets import LeasePolicy, open_store
    from helium_secrets.integrations.django import lease
    from tests.integration import leasing

    caplog.set_level(logging.DEBUG)
    with leasing.database_role(bao, postgres, ttl=LEASE_TTL, max_ttl=LEASE_MAX_TTL) as path:
        store = open_store(f"vault://127.0.0.1:{bao.port}/secret?tls=false",
                           token=bao.root_token, lease=LeasePolicy(min_retry=0.2, overlap=0.5))
        passwords: list[str] = []
        handle = store.lease(path)
        passwords.append(handle.current["password"].reveal())
        handle.on_reissue(lambda old, new: passwords.append(new["password"].reveal()))
        connections.settings["leased"] = {
            **connections.settings["default"], "NAME": "postgres", "CONN_MAX_AGE": None,
            "USER": lease(path, field="username", store=store),
            "PASSWORD": lease(path, field="password", store=store)}
        answers: list[tuple[int, Any]] = []
        try:
            deadline = time.monotonic() + 2.6 * LEASE_MAX_TTL
            while time.monotonic() < deadline:
                answers.append(_get(site + "/leased"))
                time.sleep(0.05)
        finally:
            _get(site + "/close")  # the site's thread holds the connection
            del connections.settings["leased"]
            store.close()
        users = {body["user"] for _, body in answers if body}
        assert leasing.wait_until_gone(postgres, users) == set()  # revoked, or expired
    failed = [status for status, _ in answers if status != 200]
    assert failed == [] and len(answers) > 50
    assert len(users) >= 3, "several re-issues, each one followed"
    # One persistent connection per user: reused until the re-issue, then recycled once.
    pids = {body["pid"]: body["user"] for _, body in answers}
    assert sorted(pids.values()) == sorted(users)
    assert len(passwords) >= 3
    assert not any(password in caplog.text for password in passwords)


def test_a_lease_reference_checks_its_arguments_and_names_a_missing_field() -> None:
    import copy

    from helium_secrets.errors import InvalidArgumentError
    from helium_secrets.integrations.django import lease
    from helium_secrets.testing import ManualClock
    from tests.unit.test_leases import CANARY, NO_JITTER, LeaseServer

    with pytest.raises(TypeError, match="path"):
        lease("", field="password")
    with pytest.raises(TypeError, match="field"):
        lease("database/creds/app", field=None)  # type: ignore[arg-type]
    clock = ManualClock()
    with SecretStore(LeaseServer(clock), lease=NO_JITTER, clock=clock) as store:
        ref = lease("database/creds/app", field="passwd", store=store)
        assert copy.deepcopy(ref) is ref and ref == lease("database/creds/app", field="passwd",
                                                          store=store)
        with pytest.raises(InvalidArgumentError, match="no field 'passwd'") as caught:
            ref.read()
        assert "password, username" in str(caught.value) and CANARY not in str(caught.value)


def test_the_system_check_reports_a_lease_that_cannot_be_issued(site: str) -> None:
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError
    from django.test import override_settings

    from helium_secrets.integrations.django import lease

    with override_settings(LEASED=lease("database/creds/app", field="password",
                                        store=djangosite.APP_STORE)), \
            pytest.raises(SystemCheckError) as caught:
        call_command("check", tags=["helium_secrets"])
    text = str(caught.value)
    assert "LEASED: lease('database/creds/app', field='password') cannot be read" in text
    assert "unsupported" in text  # the memory backend issues no leases
