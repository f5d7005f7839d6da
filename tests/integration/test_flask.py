"""The Flask extension through Flask's own test client, with the fake swapped in as the docs
say: live lookups (a rotation reaches the views without a restart), no value in app.config."""

from __future__ import annotations

import hmac
from typing import Any

import pytest

pytest.importorskip("flask")

from flask import Flask, abort, request

from helium_secrets.integrations.flask import HeliumSecrets, secret, store
from helium_secrets.testing import FakeSecrets

CANARY = "canary-flask-5c1a-never-show-me"

secrets = HeliumSecrets()


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(config or {})
    secrets.init_app(app)

    @app.get("/orders")
    def orders() -> dict[str, Any]:
        key = secrets.get("app/api-key")
        if not hmac.compare_digest(request.headers.get("X-Api-Key", ""), key):
            abort(403)
        return {"orders": [], "db_user": secret("app/db", "user")}

    return app


def test_views_read_the_current_secret(fake_secrets: FakeSecrets) -> None:
    fake_secrets.seed({"app/api-key": CANARY, "app/db": '{"user": "app"}'})
    app = create_app({"HELIUM_SECRETS_STORE": fake_secrets.store})
    client = app.test_client()
    answer = client.get("/orders", headers={"X-Api-Key": CANARY})
    assert answer.status_code == 200 and answer.json == {"orders": [], "db_user": "app"}
    assert client.get("/orders", headers={"X-Api-Key": "wrong"}).status_code == 403
    assert CANARY not in repr(dict(app.config)) and CANARY not in repr(app.extensions)


def test_a_rotation_reaches_the_views_without_a_restart(fake_secrets: FakeSecrets) -> None:
    fake_secrets.seed({"app/api-key": "one", "app/db": '{"user": "app"}'})
    app = create_app({"HELIUM_SECRETS_STORE": fake_secrets.store})
    client = app.test_client()
    assert client.get("/orders", headers={"X-Api-Key": "one"}).status_code == 200
    fake_secrets.rotate("app/api-key", "two")
    fake_secrets.store.refresh("app/api-key")  # or the poller, or the cache TTL
    assert client.get("/orders", headers={"X-Api-Key": "one"}).status_code == 403
    assert client.get("/orders", headers={"X-Api-Key": "two"}).status_code == 200


def test_one_extension_many_apps_and_a_store_from_the_url() -> None:
    first = create_app({"HELIUM_SECRETS_URL": "mem://", "HELIUM_SECRETS_CACHE_TTL": 5})
    second = create_app({"HELIUM_SECRETS_URL": "mem://"})
    with first.app_context():
        one = store()
        assert one.cache_policy is not None and one.cache_policy.ttl == 5
        one.put("app/api-key", "k")
        assert secrets.store is one
    with second.app_context():
        assert store() is not one
    secrets.close(first)
    secrets.close(second)
    assert one.closed


def test_bad_configuration_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="HELIUM_SECRETS_STORE"):
        create_app({"HELIUM_SECRETS_STORE": "mem://"})
    with pytest.raises(TypeError, match="HELIUM_SECRETS_CACHE_TTL"):
        create_app({"HELIUM_SECRETS_URL": "mem://", "HELIUM_SECRETS_CACHE_TTL": "5"})
    bare = Flask("bare")
    with bare.app_context(), pytest.raises(RuntimeError, match="init_app"):
        store()
