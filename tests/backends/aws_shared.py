"""What the AWS test modules share (Secrets Manager and SSM, sync and async): the per-test
``server`` fixture and the harness base. Apart from ``motoserver.py``, which the benchmarks
import without pytest."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from helium_secrets.testing import BackendHarness
from tests.backends.motoserver import MotoServer

__all__ = ["MotoHarness", "moto_per_test"]


@pytest.fixture(name="server")
def moto_per_test(moto: MotoServer) -> Iterator[MotoServer]:
    """The shared server (the session's ``moto``) with clean switches and counters for one
    test. A module that imports this has a ``server`` fixture."""
    moto.allow_all()
    moto.reset_counts()
    yield moto
    moto.allow_all()


class MotoHarness(BackendHarness):
    """moto behind the proxy: every fault happens on the wire, and a lost answer is a request
    moto performed whose answer the proxy dropped. A subclass names the requests of each
    operation (``REQUESTS``) and makes the backend from ``self.server`` and
    ``self.backend_options``."""

    faults = frozenset({"unavailable", "throttled", "lost_answer"})
    _KINDS = {"unavailable": "unavailable", "throttled": "throttle", "lost_answer": "lost"}
    #: The harness's operations (get, put, delete) -> the AWS requests they make.
    REQUESTS: dict[str, list[str]] = {}

    def __init__(self, server: MotoServer, **backend_options: Any) -> None:
        super().__init__()
        self.server = server
        self.backend_options = backend_options

    def inject_fault(self, kind: str, operation: str, count: int = 1) -> None:
        self.server.fail_next(count, self._KINDS[kind], operations=self.REQUESTS[operation])

    def clear_faults(self) -> int:
        return self.server.clear_faults()
