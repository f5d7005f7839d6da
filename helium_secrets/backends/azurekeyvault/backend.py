"""The Key Vault backend: reads, writes, the staging companion and soft delete, on
``SecretClient`` (the I/O-free part is :mod:`.common`, shared with the async twin)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.keyvault.secrets import KeyVaultSecret, SecretClient

from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import BackendBase, RawSecret, extra_operation
from helium_secrets.backends.azurekeyvault.common import (
    COMPANION_MARK,
    AzureKeyVaultBackendBase,
    Write,
)
from helium_secrets.backends.azurekeyvault.options import (
    AzureKeyVaultOptions,
    build_client,
    check_vault_url,
)
from helium_secrets.backends.azurekeyvault.values import version_info
from helium_secrets.lifecycle import Lifecycle

__all__ = ["COMPANION_MARK", "AzureKeyVaultBackend"]


class AzureKeyVaultBackend(AzureKeyVaultBackendBase, BackendBase):
    """Secrets in one Azure Key Vault.

    :param vault_url: the vault's URL (see :class:`AzureKeyVaultOptions`).
    :param options: a ready :class:`AzureKeyVaultOptions`, or pass its fields as keywords.
    :raises ValueError: an option is invalid (before any call).
    """

    _client: SecretClient

    def __init__(
        self,
        vault_url: str | None = None,
        *,
        options: AzureKeyVaultOptions | None = None,
        **keywords: Any,
    ) -> None:
        super().__init__(vault_url, options=options, **keywords)
        client = self._options.client
        self._owned_credential: Any = None
        if client is not None:
            check_vault_url(client.vault_url)
            self._client = client
            self._owns_client = False
        else:
            self._client, self._owned_credential = build_client(self._options)
            self._owns_client = True

    # -- the protocol ---------------------------------------------------------------------

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        # A 404 (no such secret, or no such version: the store asks which) is raised.
        kv = self._read_target(name, version, label)
        return self._raw(name, self._client.get_secret(kv, version))

    def put(
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
        return version_info(self._set(self._write(name, value, metadata, labels)).properties)

    def _set(self, write: Write) -> KeyVaultSecret:
        """Write a version; with ``recover``, first recover a deleted-but-recoverable name."""
        try:
            return self._client.set_secret(write.kv, write.text,
                                           content_type=write.content_type, tags=write.tags)
        except ResourceExistsError:
            if not write.recover:
                raise
        self._wait(self._client.begin_recover_deleted_secret(
            write.kv, _polling_interval=self._poll_interval), "recover")
        return self._client.set_secret(write.kv, write.text, content_type=write.content_type,
                                       tags=write.tags)

    # -- the staging companion: the store stages a value in a hidden secret ------------------

    def staging_companion(self, name: str) -> str:
        return self._companion(name)

    def _wait(self, poller: Any, what: str) -> Any:
        poller.wait(timeout=self._wait_timeout)
        if not poller.done():
            raise self._timed_out(what)
        return poller.result()

    def delete(self, name: str, *, purge: bool = False) -> None:
        kv = self.kv_name(name)
        deleted = self._wait(
            self._client.begin_delete_secret(kv, _polling_interval=self._poll_interval), "delete"
        )
        # Without soft delete (no recovery id) the secret is already gone for good.
        if not purge or deleted.recovery_id is None:
            return
        try:
            self._client.purge_deleted_secret(kv)
        except HttpResponseError as exc:
            if not self._purge_refusal_is_fine(exc, name):
                raise

    # -- soft delete: purge and recover are extra operations (store.extras.purge(name)), run
    # through the store's call pipeline. list_deleted takes a prefix, not a name, so it is
    # called on the backend (store.backend.list_deleted(prefix)) and maps its errors itself.

    @extra_operation(writes=True)
    def purge(self, name: str) -> None:
        """Purge a secret that is deleted but recoverable (needs the purge permission).

        :raises HeliumError: the name is invalid, or Key Vault refused (not deleted, purge
            protection, ...).
        """
        self._client.purge_deleted_secret(self.kv_name(name))

    @extra_operation(writes=True)
    def recover(self, name: str) -> None:
        """Recover a deleted secret and wait until it is readable again.

        :raises HeliumError: the name is invalid, or Key Vault refused (not deleted, ...).
        """
        self._wait(
            self._client.begin_recover_deleted_secret(
                self.kv_name(name), _polling_interval=self._poll_interval
            ),
            "recover",
        )

    def list_deleted(self, prefix: str = "") -> Iterator[str]:
        """Return the portable names of deleted, recoverable secrets under ``prefix``.

        :raises HeliumError: Key Vault refused (no list permission, ...).
        """
        with self._direct():
            names = [self._under(deleted.name, prefix)
                     for deleted in self._client.list_deleted_secrets()]
        return iter([name for name in names if name is not None])

    def list_names(self, prefix: str = "") -> Iterator[str]:
        # Key Vault filters nothing server-side: list everything, keep what decodes and matches.
        for props in self._client.list_properties_of_secrets():
            portable = self._under(props.name, prefix)
            if portable is not None:
                yield portable

    def list_versions(self, name: str) -> list[VersionInfo]:
        return self._versions(self._client.list_properties_of_secret_versions(self.kv_name(name)))

    def close(self) -> None:
        if self._owns_client:
            self._client.close()
        if self._owned_credential is not None:
            self._owned_credential.close()

    @extra_operation(writes=False)
    def describe(self, name: str) -> Lifecycle:
        """The secret's lifecycle from its versions' attributes (one listing, no value read):
        the first version's ``created``, the current version's ``created`` and ``exp``, and the
        versions kept. Key Vault has no rotation of secrets and records no reads."""
        return self._described(
            name, self._client.list_properties_of_secret_versions(self.kv_name(name)))
