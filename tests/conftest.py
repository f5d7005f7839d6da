"""What several test modules share: the servers, started once for the whole run.

Each server is session-scoped: the backend tests, the integration tests and the docs tests use
the same one, each test under its own names. Tests that change a server's switches (faults,
denied operations) reset them around themselves.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.backends.motoserver import MotoServer
    from tests.backends.openbao import DevServer
    from tests.integration.postgres import PostgresServer

pytest_plugins = ["tests.netguard"]  # no test connects off loopback (see netguard.py)


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """moto's Secrets Manager on loopback, behind the fault-injecting proxy (``motoserver.py``)."""
    pytest.importorskip("boto3")
    pytest.importorskip("moto")
    from tests.backends.motoserver import MotoServer

    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def bao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    """``bao server -dev`` on a free loopback port (``openbao.py``)."""
    pytest.importorskip("hvac")
    from tests.backends.openbao import DevServer

    with DevServer(tmp_path_factory.mktemp("bao-dev")) as server:
        yield server


#: Contract cases that fail today on a known defect that another change of issue 11 is fixing:
#: (test file, class or ``None`` for any, case with its parameters) -> why. Each is
#: ``xfail(strict=False)`` meanwhile, so that the suite stays green; remove the entry with the fix.
KNOWN_DEFECTS: dict[tuple[str, str | None, str], str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        cls = item.cls.__name__ if isinstance(item, pytest.Function) and item.cls else None
        for key in ((item.path.name, cls, item.name), (item.path.name, None, item.name)):
            reason = KNOWN_DEFECTS.get(key)
            if reason is not None:
                item.add_marker(pytest.mark.xfail(strict=False, reason=reason))


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A real PostgreSQL server on a free loopback port (``integration/postgres.py``)."""
    pytest.importorskip("psycopg")
    from tests.integration.postgres import PostgresServer, pg_bindir

    if pg_bindir() is None:
        pytest.skip("PostgreSQL is not installed here (Debian: apt-get install postgresql)")
    with PostgresServer() as server:
        yield server
