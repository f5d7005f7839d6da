"""docs/integrations/django.md: the settings.py example, run as written, connects to a real
PostgreSQL server with the engine it documents."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.docs.pages import ROOT, python_block

pytest.importorskip("django")
pytest.importorskip("psycopg")

PAGE = (ROOT / "docs" / "integrations" / "django.md").read_text(encoding="utf-8")


@pytest.fixture
def settings_py(monkeypatch: pytest.MonkeyPatch) -> Any:
    from helium_secrets.integrations.django import default_store, use_store

    monkeypatch.setenv("HELIUM_SECRETS_URL", "mem://")
    namespace: dict[str, Any] = {}
    exec(compile(python_block(PAGE, "## settings.py"), "settings.py", "exec"), namespace)  # noqa: S102
    store = default_store()
    yield namespace, store
    use_store(None)
    store.close()


def test_the_settings_hold_references_not_values(settings_py: Any) -> None:
    namespace, store = settings_py
    database = namespace["DATABASES"]["default"]
    assert repr(database["PASSWORD"]) == "secret('app/db', field='password')"
    assert "helium_secrets.integrations.django" in namespace["INSTALLED_APPS"]
    store.put("app/db", json.dumps({"username": "app", "password": "canary-django-docs"}))
    assert database["PASSWORD"].reveal() == "canary-django-docs"
    assert "canary-django-docs" not in repr(namespace["DATABASES"])


def test_the_engine_connects_with_the_documented_settings(settings_py: Any, postgres: Any) -> None:
    from django.db import connections

    from helium_secrets.integrations.django.postgresql.base import DatabaseWrapper
    from tests.integration import djangosite

    djangosite.configure(postgres)  # Django is configured once per process, by this helper
    namespace, store = settings_py
    database = namespace["DATABASES"]["default"]
    # The documented settings, with the test server's address and the role's current password.
    store.put("app/db", json.dumps({"username": "app",
                                    "password": djangosite.APP_STORE.get_json("app/db", "password")}))
    settings_dict = {**connections.settings["fresh"], **database,
                     "HOST": postgres.host, "PORT": str(postgres.port)}
    wrapper = DatabaseWrapper(settings_dict, alias="docs")
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone() == ("app",)
    wrapper.close()


def test_the_lease_settings_resolve_to_one_grant(monkeypatch: pytest.MonkeyPatch,
                                                 postgres: Any) -> None:
    import helium_secrets
    from helium_secrets import SecretStore
    from helium_secrets.integrations.django import use_store
    from helium_secrets.integrations.django.db import resolve
    from helium_secrets.testing import ManualClock
    from tests.integration import djangosite
    from tests.unit.test_leases import NO_JITTER, LeaseServer

    djangosite.configure(postgres)
    clock = ManualClock()
    store = SecretStore(LeaseServer(clock), lease=NO_JITTER, clock=clock)
    monkeypatch.setattr(helium_secrets, "open_store", lambda *a, **k: store)
    namespace: dict[str, Any] = {}
    block = python_block(PAGE, "## Leased credentials (dynamic secrets)")
    try:
        exec(compile(block, "settings.py", "exec"), namespace)  # noqa: S102
        database = namespace["DATABASES"]["default"]
        assert repr(database["PASSWORD"]) == "lease('database/creds/app', field='password')"
        resolved, versions = resolve(database)
        current = store.lease("database/creds/app").current
        assert (resolved["USER"], resolved["PASSWORD"]) == (
            current["username"].reveal(), current["password"].reveal())
        assert versions == {"lease:database/creds/app": current.lease_id}
        assert current["password"].reveal() not in repr(namespace["DATABASES"])
    finally:
        use_store(None)
        store.close()
