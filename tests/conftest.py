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
