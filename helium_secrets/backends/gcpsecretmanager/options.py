"""GCP's options, and the ``SecretManagerServiceClient`` built from them."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import grpc
from google.api_core.client_options import ClientOptions
from google.auth.credentials import Credentials
from google.cloud.secretmanager_v1 import SecretManagerServiceClient
from google.cloud.secretmanager_v1.services.secret_manager_service.transports import (
    SecretManagerServiceGrpcTransport,
    SecretManagerServiceRestTransport,
)

from helium_secrets._options import Options, option
from helium_secrets.backends._transport import check_plaintext, refuse_cross_origin_redirects
from helium_secrets.backends.gcpsecretmanager.names import valid_alias

__all__ = ["GCPSecretManagerOptions", "build_client", "check_client", "client_options_of",
           "insecure_endpoint"]

_SERVICE = "GCP Secret Manager"


def _locations(text: str) -> tuple[str, ...]:
    """``?replica_locations=a,b``."""
    return tuple(part for part in text.split(",") if part)


def _location_problem(location: str) -> str | None:
    return None if re.fullmatch(r"[a-z0-9-]+", location) else "a GCP location (europe-west1)"


def _alias_problem(alias: str) -> str | None:
    return None if valid_alias(alias) else "a valid GCP alias name (not latest or new)"


@dataclass(frozen=True, kw_only=True)
class GCPSecretManagerOptions(Options):
    """The options of :class:`GCPSecretManagerBackend` (the table in docs/backends/gcp.md).

    :param project: the project id or number; default: the project of ``google.auth.default()``.
    :param location: a region for regional secrets (``europe-west1``): the regional endpoint
        ``secretmanager.LOCATION.rep.googleapis.com`` and ``projects/P/locations/L`` names.
    :param credentials: ``google.auth`` credentials; default: application default credentials.
    :param client: a ready ``SecretManagerServiceClient`` (it is not closed by :meth:`close`).
    :param transport: a transport (instance, or a name such as ``"grpc"``) for the client we build.
    :param client_options: ``ClientOptions`` (or a dict) for the client we build.
    :param endpoint_url: ``host:port`` of the API, overriding the global or regional default
        (the name AWS's option has; ``endpoint``, its old name, is deprecated).
    :param insecure: with ``endpoint_url`` on a loopback address, talk plaintext gRPC (emulators).
    :param allow_insecure_http: allow plaintext off loopback too: ``insecure`` gRPC, or an
        ``http://`` endpoint of the REST transport (a trusted network only).
    :param replica_locations: create secrets with user-managed replication in these locations
        instead of automatic replication (global secrets only).
    :param timeout: seconds each call may take.
    :param page_size: the page size asked of List calls.
    :param read_metadata: make :meth:`get` also read the secret (aliases, labels, annotations,
        one ``GetSecret`` call from the 600/min read quota) instead of returning value and
        version only.
    :param raw_names: use names as secret ids, without the escape mapping.
    :param current_alias: *alias mode*: the current version is the one this alias (e.g.
        ``"current"``) names, not ``latest``. Puts move it; check-and-set is atomic (the
        move is made under the secret's etag) and staged rotation works. Versions added by
        tools that don't move the alias are not current until promoted.
    """

    scheme: ClassVar[str] = "gcpsecretmanager"
    renamed: ClassVar[Mapping[str, str]] = {"endpoint": "endpoint_url"}

    project: str | None = option(None, url="host")
    location: str | None = option(None, query=True, check=_location_problem)
    credentials: Credentials | None = None
    client: SecretManagerServiceClient | None = None
    transport: Any = None
    client_options: ClientOptions | Mapping[str, Any] | None = None
    endpoint_url: str | None = option(None, query=True)
    insecure: bool = option(False, query=True)
    allow_insecure_http: bool = option(False, query=True)
    replica_locations: tuple[str, ...] = option((), query=True, parse=_locations)
    timeout: float = option(30.0, query=True, gt=0)
    page_size: int = option(250, query=True, ge=1)
    read_metadata: bool = option(False, query=True)
    raw_names: bool = option(False, query=True)
    current_alias: str | None = option(None, query=True, check=_alias_problem)

    @property
    def endpoint(self) -> str | None:
        """The old name of :attr:`endpoint_url` (deprecated)."""
        return self.endpoint_url


def build_client(opts: GCPSecretManagerOptions, credentials: Any) -> SecretManagerServiceClient:
    """The client ``opts`` describe: global or regional endpoint, plaintext only to loopback
    (or with ``allow_insecure_http``).

    :raises ValueError: ``insecure`` without ``endpoint``, or with a ``transport``; plaintext
        (``insecure`` gRPC, an ``http://`` REST endpoint) off loopback.
    """
    options = client_options_of(opts)
    transport = opts.transport
    endpoint = insecure_endpoint(opts)
    if endpoint is not None:
        transport = SecretManagerServiceGrpcTransport(channel=grpc.insecure_channel(endpoint))
    if transport is not None and not isinstance(transport, str):
        # A transport instance carries its own channel, credentials and endpoint.
        client = SecretManagerServiceClient(transport=transport)
    else:
        client = SecretManagerServiceClient(
            credentials=credentials, transport=transport, client_options=options
        )
    try:
        check_client(client, opts)
    except ValueError:
        built: Any = client.transport
        built.close()
        raise
    return client


def client_options_of(opts: GCPSecretManagerOptions) -> ClientOptions:
    """The ``ClientOptions`` of the client to build: the given ones (copied), with the
    ``endpoint_url`` or the regional endpoint of ``location``."""
    client_options, endpoint = opts.client_options, opts.endpoint_url
    if isinstance(client_options, Mapping):
        options = ClientOptions(**client_options)
    else:  # a copy: the caller's options stay as they were
        options = copy.copy(client_options) if client_options else ClientOptions()
    if endpoint is not None:
        options.api_endpoint = endpoint
    elif opts.location is not None and options.api_endpoint is None:
        options.api_endpoint = f"secretmanager.{opts.location}.rep.googleapis.com"
    return options


def insecure_endpoint(opts: GCPSecretManagerOptions) -> str | None:
    """With ``insecure``, the endpoint to dial in plaintext gRPC (checked: loopback only, or
    ``allow_insecure_http``); ``None`` without.

    :raises ValueError: ``insecure`` without ``endpoint_url`` or with a ``transport``; off
        loopback without ``allow_insecure_http``.
    """
    if not opts.insecure:
        return None
    endpoint = opts.endpoint_url
    if endpoint is None or opts.transport is not None:
        raise ValueError("insecure=True needs endpoint_url= and no transport=")
    check_plaintext(f"http://{endpoint}", service=_SERVICE, what="plaintext gRPC",
                    allowed=opts.allow_insecure_http, fix="drop insecure=True to use TLS")
    return endpoint


def check_client(client: SecretManagerServiceClient, opts: GCPSecretManagerOptions) -> None:
    """Hold a client to the transport rules where it can be inspected: the REST transport's
    address (an ``http://`` endpoint, from ``endpoint=`` or ``client_options``, would be
    plaintext) and its session's redirects. gRPC follows no redirects, and whether a gRPC
    channel is secure cannot be read back from it.

    :raises ValueError: a plain-http REST endpoint off loopback, without
        ``allow_insecure_http``.
    """
    transport = client.transport
    if not isinstance(transport, SecretManagerServiceRestTransport):
        return
    check_plaintext(transport._host, service=_SERVICE, allowed=opts.allow_insecure_http,
                    fix="use an https:// endpoint (one without a scheme is https)")
    refuse_cross_origin_redirects(transport._session)
