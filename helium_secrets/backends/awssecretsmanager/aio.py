"""The async AWS Secrets Manager backend: the operations of :mod:`.reads` and :mod:`.writes`,
run on an aiobotocore client (``pip install 'helium-secrets[aws-async]'``).

Imported only when used: ``import helium_secrets`` and the sync backend do not import
aiobotocore. Its methods are the sync backend's, awaited (``close`` is ``aclose``); the same
options, URL form, capabilities, errors and classification, since both run the same flows
(:mod:`~helium_secrets.backends._flows`) and only the client differs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, TypeVar

import botocore.session
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession

from helium_secrets.access import AccessReview
from helium_secrets.backends._base import AsyncBackendBase, extra_operation
from helium_secrets.backends._flows import Flow, arun
from helium_secrets.backends._pacing import TurnGate
from helium_secrets.backends._shells import AsyncShell
from helium_secrets.backends.awssecretsmanager.backend import AWSSecretsManagerCore
from helium_secrets.backends.awssecretsmanager.client import AWSClient
from helium_secrets.backends.awssecretsmanager.options import (
    AWSClientOptions,
    AWSSecretsManagerOptions,
    check_endpoint,
    check_ready_client,
    checked_client,
    client_arguments,
    endpoint_of,
    region_of,
    region_option,
)
from helium_secrets.lifecycle import Lifecycle

__all__ = ["AioClient", "AsyncAWSSecretsManagerBackend", "AsyncAWSSecretsManagerOptions"]

T = TypeVar("T")
_WARM_UP = AioConfig(warm_up_loader_caches=True)
#: botocore's heavy steps (a request serialized, the request signed and sent, an answer
#: parsed: about a millisecond of CPU each) let through per turn of the event loop, so answers
#: that arrive together do not stall it. One, not two: measured side by side, two per turn
#: made the loop's longest stall a third longer at the same throughput
#: (docs/performance.md#async).
STEPS_PER_TURN = 1


@dataclass(frozen=True, kw_only=True)
class AsyncAWSSecretsManagerOptions(AWSSecretsManagerOptions):
    """The options of :class:`AsyncAWSSecretsManagerBackend`: those of
    :class:`~helium_secrets.backends.awssecretsmanager.AWSSecretsManagerOptions`, except that
    ``session`` is an ``aiobotocore.session.AioSession`` and ``client`` a ready aiobotocore
    ``secretsmanager`` client (already entered; the backend does not close it)."""

    session: AioSession | None = None


def _pool_size(config: Any) -> int:
    """The client's connection pool (botocore's ``max_pool_connections``, 10 by default)."""
    size = getattr(config, "max_pool_connections", None)
    return size if isinstance(size, int) and size > 0 else 10


class AioClient(AWSClient):
    """An AWS backend's aiobotocore client, for every async AWS backend: checked when the
    backend is built (which connects nowhere and looks up no credentials: the options, the
    endpoint, with the TLS rule on the endpoint botocore resolves from ``endpoint_url=``, the
    environment and the config files, and the region), made on the first call."""

    _owns_client: bool

    def _prepare(self, opts: AWSClientOptions) -> None:
        """Check ``opts`` as the sync backends' ``client_for`` does, building no client.

        :raises ValueError: as ``client_for``.
        """
        self._client: Any = opts.client
        self._client_options = opts
        self._lock = asyncio.Lock()
        self._steps = TurnGate(STEPS_PER_TURN)
        if opts.client is not None:
            check_ready_client(opts)
            self._endpoint, self._region = endpoint_of(opts.client), region_of(opts.client)
            self._slots = asyncio.Semaphore(_pool_size(opts.client.meta.config))
            return
        self._session: AioSession = opts.session or AioSession(profile=opts.profile)
        self._arguments = client_arguments(opts, region_option(opts))
        self._slots = asyncio.Semaphore(_pool_size(self._arguments["config"]))
        # What the client will call, from a sync botocore client built with placeholder keys
        # (so no credential lookup), as the sync backend checks its client.
        probe = checked_client(self._probe, opts)
        self._endpoint, self._region = endpoint_of(probe), region_of(probe)
        probe.close()

    def _probe(self) -> Any:
        arguments = dict(self._arguments)
        arguments["region_name"] = (arguments["region_name"]
                                    or self._session.get_config_variable("region"))
        session = botocore.session.Session(profile=self._session.profile)
        return session.create_client(self._client_options.service, aws_access_key_id="probe",
                                     aws_secret_access_key="probe", **arguments)

    async def _ready(self) -> Any:
        """The client, made on the first call (under a lock: one for all concurrent callers)."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                # botocore's models load in a thread, not on the loop (on the first client).
                arguments = {**self._arguments,
                             "config": _WARM_UP.merge(self._arguments["config"])}
                client = await self._session.create_client(
                    self._client_options.service, **arguments).__aenter__()
                try:
                    check_endpoint(client, self._client_options)
                except ValueError:
                    await client.close()
                    raise
                # aiobotocore awaits a coroutine handler: a serialized request waits for its
                # turn before botocore signs and sends it, and an answer before botocore
                # parses it. (A given client is left as it is.)
                client.meta.events.register("before-call", self._next_step)
                client.meta.events.register("before-parse", self._next_step)
                self._client = client
        return self._client

    async def _run(self, flow: Flow[T]) -> T:
        # No more calls under way than the client has connections: botocore builds and signs
        # a request (about a millisecond of CPU) before it waits for a connection, so 1,000
        # concurrent misses would otherwise all be built in one burst on the event loop. And
        # no more requests built per turn than STEPS_PER_TURN: the calls that a turn's answers
        # free would otherwise all build their requests in the next one.
        async with self._slots:
            client = await self._ready()
            await self._steps.enter()
            return await arun(flow, client)

    async def _next_step(self, **_: Any) -> None:
        await self._steps.enter()  # None: botocore goes on with the call

    @property
    def client(self) -> Any:
        """The aiobotocore client (``None`` until the first call)."""
        return self._client

    @property
    def endpoint(self) -> str:
        return self._endpoint

    @property
    def region(self) -> str | None:
        return self._region

    async def aclose(self) -> None:
        """Close the client this backend made (a given ``client`` stays open)."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.close()


class AsyncAWSSecretsManagerBackend(AioClient, AWSSecretsManagerCore, AsyncShell,
                                    AsyncBackendBase):
    """AWS Secrets Manager through aiobotocore, awaited.

    Building it connects nowhere and looks up no credentials (see :class:`AioClient`); the
    client is made on the first call.

    :param options: a ready :class:`AsyncAWSSecretsManagerOptions`, or pass its fields as
        keywords.
    :raises ValueError: as the sync backend's.
    """

    options_class = AsyncAWSSecretsManagerOptions

    def __init__(
        self, *, options: AWSSecretsManagerOptions | None = None, **keywords: Any
    ) -> None:
        self._prepare(self._configure(options, keywords))

    @extra_operation(writes=False)
    async def access(self, name: str) -> AccessReview:
        """As the sync backend's ``access``: who the service's own policy lets read the secret."""
        return await self._run(self._access_review(name))

    @extra_operation(writes=False)
    async def describe(self, name: str) -> Lifecycle:
        """As :meth:`AWSSecretsManagerBackend.describe`: one DescribeSecret."""
        return await self._run(self._lifecycle(name))

    @extra_operation(writes=True)
    async def restore(self, name: str) -> None:
        """As :meth:`AWSSecretsManagerBackend.restore` (``store.extras.restore(name)``)."""
        await self._run(self._restore(name))
