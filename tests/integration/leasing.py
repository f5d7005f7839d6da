"""OpenBao's database engine issuing PostgreSQL users, for the dynamic-secrets tests (the lease
API, the Django engine, ``run --watch``, an outage)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager

from tests.backends.openbao import _Server
from tests.integration.postgres import PostgresServer

__all__ = ["database_role", "roles", "wait_until_gone"]


@contextmanager
def database_role(bao: _Server, postgres: PostgresServer, *, ttl: float,
                  max_ttl: float) -> Iterator[str]:
    """A database engine at a fresh mount with a role ``app`` issuing users for ``ttl``
    seconds (renewable up to ``max_ttl``); yields ``MOUNT/creds/app``."""
    mount = f"db-{secrets.token_hex(4)}"
    bao.cli("secrets", "enable", f"-path={mount}", "database")
    try:
        bao.cli("write", f"{mount}/config/pg", "plugin_name=postgresql-database-plugin",
                "connection_url=postgresql://{{username}}:{{password}}@"
                f"{postgres.host}:{postgres.port}/postgres?sslmode=disable",
                f"username={postgres.admin_user}", f"password={postgres.admin_password}",
                "allowed_roles=app")
        bao.cli("write", f"{mount}/roles/app", "db_name=pg",
                "creation_statements=CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD "
                "'{{password}}' VALID UNTIL '{{expiration}}';",
                f"default_ttl={ttl:g}s", f"max_ttl={max_ttl:g}s")
        yield f"{mount}/creds/app"
    finally:
        if bao.process is not None:
            bao.cli("secrets", "disable", mount)


def roles(postgres: PostgresServer, names: set[str]) -> set[str]:
    """Which of ``names`` are roles of the server now (``pg_roles``)."""
    import psycopg

    with psycopg.connect(host=postgres.host, port=postgres.port, user=postgres.admin_user,
                         password=postgres.admin_password, dbname="postgres") as conn:
        rows = conn.execute("SELECT rolname FROM pg_roles").fetchall()
    return {row[0] for row in rows} & names


def wait_until_gone(postgres: PostgresServer, names: set[str], timeout: float = 30) -> set[str]:
    """Wait for Vault to drop the users ``names`` (revoked, or expired); return those left."""
    end = time.monotonic() + timeout
    while (left := roles(postgres, names)) and time.monotonic() < end:
        time.sleep(0.5)
    return left
