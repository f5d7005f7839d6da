"""The client an AWS backend runs its flows on: :class:`BotoClient` for the sync backends (a
boto3 client, built by :func:`~.options.client_for`); the async backends' ``AioClient`` is in
:mod:`.aio`, which imports aiobotocore."""

from __future__ import annotations

from typing import Any, TypeVar

from helium_secrets.backends._flows import Flow, run
from helium_secrets.backends.awssecretsmanager.options import (
    AWSClientOptions,
    client_for,
    endpoint_of,
    region_of,
)

__all__ = ["AWSClient", "BotoClient"]

T = TypeVar("T")


class AWSClient:
    """What an AWS backend knows of its client, whichever it is."""

    @property
    def endpoint(self) -> str:
        """The endpoint the client calls (``https://secretsmanager.REGION.amazonaws.com``)."""
        raise NotImplementedError

    @property
    def region(self) -> str | None:
        """The region the client calls."""
        raise NotImplementedError


class BotoClient(AWSClient):
    """A sync AWS backend's boto3 client: built (or checked) from the options, closed by
    :meth:`close` unless it was given."""

    _owns_client: bool

    def _connect(self, opts: AWSClientOptions) -> None:
        self.client: Any = client_for(opts)

    def _run(self, flow: Flow[T]) -> T:
        return run(flow, self.client)

    @property
    def endpoint(self) -> str:
        return endpoint_of(self.client)

    @property
    def region(self) -> str | None:
        return region_of(self.client)

    def close(self) -> None:
        if self._owns_client:
            self.client.close()
