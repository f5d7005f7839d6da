"""AWS SSM Parameter Store: the conformance suite and the SSM specifics, against moto's server.

boto3 talks real HTTP to moto (through the fault-injecting proxy in ``motoserver.py``, the one
the Secrets Manager tests use); nothing in the SDK is mocked. One server serves the whole
session: every test uses its own names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
from botocore.config import Config

from helium_secrets import GuardPolicy, RetryPolicy, SecretStore, open_store
from helium_secrets.backends.awsssm import AWSSSMBackend
from helium_secrets.errors import (
    ConflictError,
    InvalidArgumentError,
    InvalidNameError,
    PermissionDeniedError,
    SecretNotFoundError,
    ThrottledError,
    TooLargeError,
    UnauthenticatedError,
    UnavailableError,
    VersionNotFoundError,
)
from helium_secrets.testing import BackendHarness
from helium_secrets.testing.conformance import CANARY, BackendConformance
from tests.backends.motoserver import MotoServer

NO_GUARD = GuardPolicy(threshold=0)


@pytest.fixture
def server(moto: MotoServer) -> Iterator[MotoServer]:
    """The shared server with clean switches and counters for one test."""
    moto.allow_all()
    moto.reset_counts()
    yield moto
    moto.allow_all()


def make_backend(server: MotoServer, **options: Any) -> AWSSSMBackend:
    return AWSSSMBackend(session=server.session(), endpoint_url=server.endpoint_url, **options)


def ssm_client(server: MotoServer) -> Any:
    """A raw ``ssm`` client on the proxy, as another application would hold."""
    return server.session().client("ssm", endpoint_url=server.endpoint_url,
                                   config=Config(retries={"total_max_attempts": 1}))


def _open(server: MotoServer, url: str = "awsssm://", **options: Any) -> SecretStore:
    options.setdefault("session", server.session())
    options.setdefault("endpoint_url", server.endpoint_url)
    return open_store(url, cache=None, retry=RetryPolicy.never(), guard=NO_GUARD, **options)


@pytest.fixture
def store(server: MotoServer) -> Iterator[SecretStore]:
    with _open(server) as store:
        yield store


@pytest.fixture
def prefix() -> str:
    return f"ssm/t{uuid.uuid4().hex[:12]}"


class SSMHarness(BackendHarness):
    """moto behind the proxy: every fault happens on the wire, and a lost answer is a request
    moto performed whose answer the proxy dropped."""

    missing_version = "987654"
    faults = frozenset({"unavailable", "throttled", "lost_answer"})
    _KINDS = {"unavailable": "unavailable", "throttled": "throttle", "lost_answer": "lost"}
    _REQUESTS = {"get": ["GetParameter"], "put": ["PutParameter"],
                 "delete": ["DeleteParameter"]}

    def __init__(self, server: MotoServer, **backend_options: Any) -> None:
        super().__init__()
        self.server = server
        self.backend_options = backend_options

    def make_backend(self) -> AWSSSMBackend:
        return make_backend(self.server, **self.backend_options)

    def inject_fault(self, kind: str, operation: str, count: int = 1) -> None:
        self.server.fail_next(count, self._KINDS[kind], operations=self._REQUESTS[operation])

    def clear_faults(self) -> int:
        return self.server.clear_faults()


class TestSSMConformance(BackendConformance):
    @pytest.fixture
    def harness(self, moto: MotoServer) -> Iterator[SSMHarness]:
        with SSMHarness(moto) as harness:
            yield harness


class TestSSMConformanceStringUnderAPath(BackendConformance):
    """The same contract for String parameters under a root path."""

    @pytest.fixture
    def harness(self, moto: MotoServer) -> Iterator[SSMHarness]:
        with SSMHarness(moto, path="/helium/root", parameter_type="String") as harness:
            yield harness
