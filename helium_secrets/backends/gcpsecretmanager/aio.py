"""The async GCP Secret Manager backend: the operations of :mod:`.reads`, :mod:`.writes` and
:mod:`.versions`, run on ``SecretManagerServiceAsyncClient`` over ``grpc.aio`` (part of
``google-cloud-secret-manager``: the ``gcp`` extra is enough).

Its methods are the sync backend's, awaited (``close`` is ``aclose``); the same options, URL
form, capabilities, errors and classification, since both run the same flows
(:mod:`~helium_secrets.backends._flows`) and only the client differs.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
from google.auth import exceptions as auth_exceptions
from google.cloud.secretmanager_v1 import SecretManagerServiceAsyncClient
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcAsyncIOTransport,
)

from helium_secrets._values import VersionInfo
from helium_secrets.access import AccessReview
from helium_secrets.backends._base import AsyncBackendBase, extra_operation
from helium_secrets.backends._flows import Flow, arun
from helium_secrets.backends._shells import AsyncShell
from helium_secrets.backends.gcpsecretmanager.backend import (
    GCPSecretManagerCore,
    default_credentials,
    no_credentials,
)
from helium_secrets.backends.gcpsecretmanager.options import (
    GCPSecretManagerOptions,
    check_client,
    client_options_of,
    insecure_endpoint,
)
from helium_secrets.lifecycle import Lifecycle

__all__ = ["AsyncGCPSecretManagerBackend", "AsyncGCPSecretManagerOptions"]

T = TypeVar("T")
_TRANSPORT = "grpc_asyncio"


@dataclass(frozen=True, kw_only=True)
class AsyncGCPSecretManagerOptions(GCPSecretManagerOptions):
    """The options of :class:`AsyncGCPSecretManagerBackend`: those of
    :class:`~helium_secrets.backends.gcpsecretmanager.GCPSecretManagerOptions`, except that
    ``client`` is a ready ``SecretManagerServiceAsyncClient`` (not closed by ``aclose``) and
    ``transport`` an asyncio gRPC one (an instance, or ``"grpc_asyncio"``, the default)."""

    # The async client, not the sync options' (so mypy sees an incompatible override).
    client: SecretManagerServiceAsyncClient | None = None  # type: ignore[assignment]


class AsyncGCPSecretManagerBackend(GCPSecretManagerCore, AsyncShell, AsyncBackendBase):
    """GCP Secret Manager through ``SecretManagerServiceAsyncClient``, awaited.

    Building it connects nowhere: the options, the plaintext rule and the credentials
    (application default credentials when none are given) are checked here, and the client,
    whose gRPC channel belongs to the running event loop, is made on the first call.

    :param project: the project (see :class:`GCPSecretManagerOptions`).
    :param options: a ready :class:`AsyncGCPSecretManagerOptions`, or pass its fields as
        keywords.
    :raises ValueError: as the sync backend's; a transport other than ``"grpc_asyncio"``.
    :raises UnauthenticatedError: no credentials anywhere.
    """

    options_class = AsyncGCPSecretManagerOptions

    def __init__(self, project: str | None = None, *,
                 options: GCPSecretManagerOptions | None = None, **keywords: Any) -> None:
        opts, credentials = self._configure(project, options, keywords)
        self._client: Any = opts.client
        self._lock = asyncio.Lock()
        self._client_options = client_options_of(opts)
        if opts.client is not None:
            check_client(opts.client, opts)
            return
        transport = opts.transport
        if isinstance(transport, str) and transport != _TRANSPORT:
            raise ValueError(f"the async GCP backend talks gRPC: transport={_TRANSPORT!r} "
                             "(the default) or an asyncio transport instance")
        self._insecure = insecure_endpoint(opts)
        own_credentials = (self._client_options.credentials_file is not None
                           or self._client_options.api_key is not None)
        if credentials is None and transport is None and self._insecure is None \
                and not own_credentials:
            credentials, _ = default_credentials()  # as the sync client does when built
        self._credentials = credentials

    async def _ready(self) -> Any:
        """The client, made on the first call in the running loop (under a lock: one for all
        concurrent callers)."""
        if self._client is not None:
            return self._client
        async with self._lock:
            if self._client is None:
                self._client = self._build()
        return self._client

    def _build(self) -> SecretManagerServiceAsyncClient:
        transport = self._options.transport
        if self._insecure is not None:
            transport = SecretManagerServiceGrpcAsyncIOTransport(
                channel=grpc.aio.insecure_channel(self._insecure))
        if transport is not None and not isinstance(transport, str):
            return SecretManagerServiceAsyncClient(transport=transport)
        try:
            return SecretManagerServiceAsyncClient(
                credentials=self._credentials, transport=_TRANSPORT,
                client_options=self._client_options)
        except auth_exceptions.DefaultCredentialsError as exc:
            raise no_credentials() from exc

    async def _run(self, flow: Flow[T]) -> T:
        return await arun(flow, await self._ready())

    @property
    def endpoint(self) -> str:
        if self._options.endpoint_url:
            return self._options.endpoint_url
        if self._client is not None:
            return str(getattr(self._client, "api_endpoint", "") or "")
        return str(self._client_options.api_endpoint or SecretManagerServiceAsyncClient.DEFAULT_ENDPOINT)

    @extra_operation(writes=False)
    async def access(self, name: str) -> AccessReview:
        """As the sync backend's ``access``: who the service's own policy lets read the secret."""
        return await self._run(self._access_review(name))

    @extra_operation(writes=False)
    async def describe(self, name: str) -> Lifecycle:
        """As :meth:`GCPSecretManagerBackend.describe`: GetSecret and ListSecretVersions."""
        return await self._run(self._lifecycle(name))

    @extra_operation(writes=True)
    async def disable_version(self, name: str, version: str, *,
                              etag: str | None = None) -> VersionInfo:
        """As :meth:`GCPSecretManagerBackend.disable_version`."""
        return await self._run(self._change_state("disable_secret_version", name, version, etag))

    @extra_operation(writes=True)
    async def enable_version(self, name: str, version: str, *,
                             etag: str | None = None) -> VersionInfo:
        """As :meth:`GCPSecretManagerBackend.enable_version`."""
        return await self._run(self._change_state("enable_secret_version", name, version, etag))

    @extra_operation(writes=True)
    async def destroy_version(self, name: str, version: str, *,
                              etag: str | None = None) -> VersionInfo:
        """As :meth:`GCPSecretManagerBackend.destroy_version`."""
        return await self._run(self._change_state("destroy_secret_version", name, version, etag))

    async def aclose(self) -> None:
        """Close the client's channel if this backend made it (a given ``client`` stays open)."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.transport.close()
