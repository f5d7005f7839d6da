"""A small Django site on the real PostgreSQL server, for the Django integration's tests.

Django's settings are global to the process, so they are configured once, here: the database
``app`` is reached as the role ``app``, whose password is the ``password`` field of the secret
``app/db`` in :data:`APP_STORE`.

* ``default``: helium's engine, a persistent connection (``CONN_MAX_AGE=None``);
* ``fresh``: helium's engine, a new connection for every request (``CONN_MAX_AGE=0``);
* ``peer``: Django's own engine with the password read into ``DATABASES`` at start-up, as the
  peers do.

The site is served by a real WSGI server (one thread, so that persistent connections persist),
so Django's request signals close and reopen connections as in production.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from helium_secrets import CachePolicy, PollPolicy, SecretStore
from helium_secrets.backends.memory import MemoryBackend
from tests.integration.postgres import PostgresServer

__all__ = ["APP_STORE", "BACKEND", "configure", "password", "serve"]

#: What the rotator writes through: another process's store, in production.
BACKEND = MemoryBackend()
#: The application's store: a long cache TTL and no poller, so that the application learns of
#: a rotation only from the database refusing the old password.
APP_STORE = SecretStore(BACKEND, cache=CachePolicy(ttl=3600), poll=PollPolicy(interval=None))

_configured = threading.Lock()


def password(n: int) -> str:
    """The role's n-th password: a canary that must appear in no log or error."""
    return f"canary-pg-password-{n}-never-show-me"


def configure(pg: PostgresServer) -> None:
    """Create the role and database, and configure Django once for this process."""
    import django
    from django.conf import settings

    from helium_secrets.integrations.django import secret

    with _configured:
        if settings.configured:
            return
        # CREATEDB: Django's test runner creates its test database as this role.
        pg.admin(f"CREATE ROLE app LOGIN CREATEDB PASSWORD '{password(1)}'")
        pg.admin("CREATE DATABASE app OWNER app")
        BACKEND.write_external("app/db", json.dumps({"username": "app", "password": password(1)}))
        common = {"NAME": "app", "HOST": pg.host, "PORT": str(pg.port)}
        helium = {**common, "ENGINE": "helium_secrets.integrations.django.postgresql",
                  "USER": secret("app/db", field="username", store=APP_STORE),
                  "PASSWORD": secret("app/db", field="password", store=APP_STORE)}
        settings.configure(
            DEBUG=False,
            ALLOWED_HOSTS=["*"],
            SECRET_KEY="not-a-secret-test-key",
            ROOT_URLCONF=__name__,
            INSTALLED_APPS=["helium_secrets.integrations.django"],
            MIDDLEWARE=[],
            DATABASES={
                "default": {**helium, "CONN_MAX_AGE": None},
                "fresh": {**helium, "CONN_MAX_AGE": 0},
                "peer": {**common, "ENGINE": "django.db.backends.postgresql", "USER": "app",
                         "PASSWORD": APP_STORE.get_json("app/db", "password"),
                         "CONN_MAX_AGE": 0},
            },
            LOGGING_CONFIG=None,
        )
        django.setup()


# -- the site ------------------------------------------------------------------------------

def _query(request: Any) -> Any:
    from django.db import connections
    from django.http import JsonResponse

    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    with connections["fresh"].cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"pid": pid})


def _peer(request: Any) -> Any:
    from django.db import connections
    from django.http import JsonResponse

    with connections["peer"].cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


def _leased(request: Any) -> Any:
    """The ``leased`` database (a test adds it to ``connections.settings``) as which user."""
    from django.db import connections
    from django.http import JsonResponse

    with connections["leased"].cursor() as cursor:
        cursor.execute("SELECT current_user, pg_backend_pid()")
        user, pid = cursor.fetchone()
    return JsonResponse({"user": user, "pid": pid})


def _close(request: Any) -> Any:
    from django.db import connections
    from django.http import JsonResponse

    connections.close_all()
    return JsonResponse({"ok": True})


def _urls() -> list[Any]:
    from django.urls import path

    return [path("query", _query), path("peer", _peer), path("close", _close),
            path("leased", _leased)]


def __getattr__(name: str) -> Any:
    if name == "urlpatterns":  # Django reads the URLconf only once it is configured
        return _urls()
    raise AttributeError(name)


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve() -> Iterator[str]:
    """Serve the site on a free loopback port, in one thread; yield its base URL."""
    from django.core.wsgi import get_wsgi_application

    server: WSGIServer = make_server("127.0.0.1", 0, get_wsgi_application(),
                                     handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="django-site", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        yield base
    finally:
        import urllib.request

        urllib.request.urlopen(base + "/close", timeout=60).close()  # the server thread's
        server.shutdown()
        server.server_close()
        thread.join(60)
