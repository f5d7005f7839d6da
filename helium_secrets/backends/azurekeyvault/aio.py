"""The async Key Vault backend, on ``azure.keyvault.secrets.aio.SecretClient`` (aiohttp under
azure-core) with ``azure.identity.aio`` credentials.

It has the sync backend's methods, awaited, with the same answers, errors and options: the
names, values, tags, dates, listings and classification are :mod:`.common`'s, the client is
made with the same settings (:func:`~.options.client_settings`: no SDK retries, TLS verified)
and the async flavour of the same-origin redirect policy.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.core.pipeline.policies import AsyncRedirectPolicy
from azure.core.pipeline.transport import AioHttpTransport
from azure.keyvault.secrets import KeyVaultSecret
from azure.keyvault.secrets.aio import SecretClient

from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import AsyncBackendBase, RawSecret, extra_operation
from helium_secrets.backends.azurekeyvault.common import AzureKeyVaultBackendBase, Write
from helium_secrets.backends.azurekeyvault.options import (
    AzureKeyVaultOptions,
    SameOrigin,
    check_vault_url,
    client_settings,
)
from helium_secrets.backends.azurekeyvault.values import version_info
from helium_secrets.lifecycle import Lifecycle

__all__ = ["AsyncAzureKeyVaultBackend", "AsyncSameOriginRedirects"]


class AsyncSameOriginRedirects(SameOrigin, AsyncRedirectPolicy[Any, Any]):
    """azure-core's async redirect policy, within the vault's origin only (:class:`SameOrigin`)."""


class _Transport(AioHttpTransport):  # type: ignore[misc]
    """azure-core's aiohttp transport, with two things changed:

    * aiohttp sends an idempotent request (GET, PUT, DELETE) again, once, when a kept-alive
      connection drops before the answer: a ``set_secret`` (a PUT) that landed would then
      make a second version, a retry below the store's, which is the only retry layer.
      aiohttp has no option for it but this attribute of its session.
    * azure-core builds the SSL context of a CA bundle (``connection_verify=<path>``) again
      for every request, reading the file on the event loop: it is built once, off the loop.
    """

    _ssl: Any = None

    async def open(self) -> None:
        await super().open()
        if self.session is not None and hasattr(self.session, "_retry_connection"):
            self.session._retry_connection = False
        if self._ssl is None:
            config = self.connection_config
            self._ssl = await asyncio.to_thread(super()._build_ssl_config, config.cert,
                                                config.verify)

    def _build_ssl_config(self, cert: Any, verify: Any) -> Any:
        config = self.connection_config
        if self._ssl is not None and (cert, verify) == (config.cert, config.verify):
            return self._ssl
        return super()._build_ssl_config(cert, verify)


def _is_async_credential(credential: object) -> bool:
    return inspect.iscoroutinefunction(getattr(credential, "get_token", None))


class AsyncAzureKeyVaultBackend(AzureKeyVaultBackendBase, AsyncBackendBase):
    """Secrets in one Azure Key Vault, on the SDK's async client: the methods of
    :class:`~helium_secrets.backends.azurekeyvault.AzureKeyVaultBackend`, awaited, and
    ``aclose()``.

    :param vault_url: the vault's URL (see :class:`AzureKeyVaultOptions`; ``credential`` is an
        async credential, default ``azure.identity.aio.DefaultAzureCredential()``).
    :param client: a ready ``azure.keyvault.secrets.aio.SecretClient`` to use instead (its
        policies are then yours; it is not closed with the backend).
    :param options: a ready :class:`AzureKeyVaultOptions`, or pass its fields as keywords.
    :raises ValueError: an option is invalid (before any call).
    """

    _client: SecretClient

    def __init__(
        self,
        vault_url: str | None = None,
        *,
        client: SecretClient | None = None,
        options: AzureKeyVaultOptions | None = None,
        **keywords: Any,
    ) -> None:
        super().__init__(vault_url, options=options, **keywords)
        opts = self._options
        if opts.client is not None:
            raise ValueError("client= takes an azure.keyvault.secrets.aio.SecretClient here")
        self._owned_credential: Any = None
        if client is not None:
            if not isinstance(client, SecretClient):
                raise TypeError("client must be an azure.keyvault.secrets.aio.SecretClient")
            check_vault_url(client.vault_url)
            self._client, self._owns_client = client, False
            return
        settings = client_settings(opts)
        settings["redirect_policy"] = AsyncSameOriginRedirects()
        if "transport" not in settings:  # client_options may bring one: then it is theirs
            settings["transport"] = _Transport(**{
                key: settings[key]
                for key in ("connection_timeout", "read_timeout", "connection_verify")})
        credential: Any = opts.credential
        if credential is None:
            from azure.identity.aio import DefaultAzureCredential

            credential = self._owned_credential = DefaultAzureCredential()
        elif not _is_async_credential(credential):
            raise TypeError("the async backend needs an async credential (azure.identity.aio, "
                            "or any AsyncTokenCredential)")
        self._client = SecretClient(str(opts.vault_url), credential, **settings)
        self._owns_client = True

    # -- the protocol ---------------------------------------------------------------------

    async def get(self, name: str, version: str | None = None,
                  label: str | None = None) -> RawSecret:
        kv = self._read_target(name, version, label)
        return self._raw(name, await self._client.get_secret(kv, version))

    async def put(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_version: str | None = None,
        create_only: bool = False,
        request_token: str | None = None,
        metadata: Mapping[str, str] | None = None,
        labels: Sequence[str] = (),
    ) -> VersionInfo:
        written = await self._set(self._write(name, value, metadata, labels))
        return version_info(written.properties)

    async def _set(self, write: Write) -> KeyVaultSecret:
        """Write a version; with ``recover``, first recover a deleted-but-recoverable name."""
        try:
            return await self._client.set_secret(
                write.kv, write.text, content_type=write.content_type, tags=write.tags)
        except ResourceExistsError:
            if not write.recover:
                raise
        await self._wait(self._client.recover_deleted_secret(
            write.kv, _polling_interval=self._poll_interval), "recover")
        return await self._client.set_secret(write.kv, write.text,
                                             content_type=write.content_type, tags=write.tags)

    async def _wait(self, operation: Any, what: str) -> Any:
        """Await a delete or recover (the aio client polls until it is done)."""
        try:
            return await asyncio.wait_for(operation, self._wait_timeout)
        except asyncio.TimeoutError:
            raise self._timed_out(what) from None

    async def staging_companion(self, name: str) -> str:
        return self._companion(name)

    async def delete(self, name: str, *, purge: bool = False) -> None:
        kv = self.kv_name(name)
        deleted = await self._wait(self._client.delete_secret(
            kv, _polling_interval=self._poll_interval), "delete")
        # Without soft delete (no recovery id) the secret is already gone for good.
        if not purge or deleted.recovery_id is None:
            return
        try:
            await self._client.purge_deleted_secret(kv)
        except HttpResponseError as exc:
            if not self._purge_refusal_is_fine(exc, name):
                raise

    @extra_operation(writes=True)
    async def purge(self, name: str) -> None:
        """Purge a secret that is deleted but recoverable (needs the purge permission)."""
        await self._client.purge_deleted_secret(self.kv_name(name))

    @extra_operation(writes=True)
    async def recover(self, name: str) -> None:
        """Recover a deleted secret and wait until it is readable again."""
        await self._wait(self._client.recover_deleted_secret(
            self.kv_name(name), _polling_interval=self._poll_interval), "recover")

    async def list_deleted(self, prefix: str = "") -> Iterator[str]:
        """The portable names of deleted, recoverable secrets under ``prefix``.

        :raises HeliumError: Key Vault refused (no list permission, ...).
        """
        with self._direct():
            names = [self._under(deleted.name, prefix)
                     async for deleted in self._client.list_deleted_secrets()]
        return iter([name for name in names if name is not None])

    async def list_names(self, prefix: str = "") -> Iterator[str]:
        # Key Vault filters nothing server-side: list everything (every page), keep what
        # decodes and matches.
        names = [self._under(props.name, prefix)
                 async for props in self._client.list_properties_of_secrets()]
        return iter([name for name in names if name is not None])

    async def _version_properties(self, name: str) -> list[Any]:
        pages = self._client.list_properties_of_secret_versions(self.kv_name(name))
        return [props async for props in pages]

    async def list_versions(self, name: str) -> list[VersionInfo]:
        return self._versions(await self._version_properties(name))

    async def aclose(self) -> None:
        """Close the client (if the backend made it) and the credential it made."""
        if self._owns_client:
            await self._client.close()
        if self._owned_credential is not None:
            await self._owned_credential.close()

    @extra_operation(writes=False)
    async def describe(self, name: str) -> Lifecycle:
        """The secret's lifecycle from its versions' attributes (see the sync backend's)."""
        return self._described(name, await self._version_properties(name))
