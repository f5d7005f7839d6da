"""Key Vault's options, and the ``SecretClient`` built from them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from azure.core.credentials import TokenCredential
from azure.keyvault.secrets import SecretClient

from helium_secrets._options import Options, option

__all__ = ["AzureKeyVaultOptions", "build_client"]


@dataclass(frozen=True, kw_only=True)
class AzureKeyVaultOptions(Options):
    """The options of :class:`AzureKeyVaultBackend` (the table in docs/backends/azure.md).

    :param vault_url: the vault's URL, ``https://<vault>.vault.azure.net``.
    :param credential: any azure-core ``TokenCredential``; default ``DefaultAzureCredential()``
        (from azure-identity, closed with the backend).
    :param client: a ready ``SecretClient`` to use instead (its retry policy is then yours to
        switch off; it is not closed with the backend).
    :param names: ``"escaped"`` (the default mapping) or ``"verbatim"`` (names are Key Vault
        names already: no ``/``, case-insensitive).
    :param recover_deleted: when a write hits a deleted-but-recoverable secret, recover it and
        write, instead of raising :class:`~helium_secrets.errors.ConflictError`.
    :param honour_dates: refuse to return a version outside its not-before/expiry window.
    :param connection_verify: a CA bundle path (or ``True``) for TLS verification.
    :param verify_challenge_resource: check that the vault's auth challenge names a resource
        matching the vault's domain (keep it on for real vaults).
    :param poll_interval: seconds between polls while waiting for a delete or recover.
    :param wait_timeout: the longest wait for a delete or recover to finish, in seconds.
    :param connection_timeout: TCP connect timeout, in seconds.
    :param read_timeout: socket read timeout, in seconds.
    :param client_options: more keyword arguments for ``SecretClient`` (``api_version``,
        ``transport``, ...); not retry settings (the store is the only retry layer) nor the
        options above.
    """

    scheme: ClassVar[str] = "azurekeyvault"

    vault_url: str | None = option(None, url="host")
    credential: TokenCredential | None = None
    client: SecretClient | None = None
    names: Literal["escaped", "verbatim"] = option("escaped", query=True)
    recover_deleted: bool = option(False, query=True)
    honour_dates: bool = option(True, query=True)
    connection_verify: str | bool = True
    verify_challenge_resource: bool = option(True, query=True)
    poll_interval: float = option(2.0, query=True, gt=0)
    wait_timeout: float = option(120.0, query=True, gt=0)
    connection_timeout: float = option(10.0, gt=0)
    read_timeout: float = option(60.0, gt=0)
    client_options: Mapping[str, Any] | None = None


def build_client(opts: AzureKeyVaultOptions) -> tuple[SecretClient, Any]:
    """The ``SecretClient`` ``opts`` describe (azure-core's retries off, TLS verified), and the
    credential made for it, which its owner closes (``None`` when ``opts.credential`` is given).

    :raises ValueError: no ``vault_url``, one that is not https, or ``client_options`` that
        would undo the above.
    """
    vault_url, credential = opts.vault_url, opts.credential
    if not vault_url:
        raise ValueError("the Azure Key Vault backend needs vault_url or client")
    if not vault_url.lower().startswith("https://"):
        raise ValueError("the vault URL must be https://")
    owned: Any = None
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = owned = DefaultAzureCredential()
    settings: dict[str, Any] = {
        "retry_total": 0,  # the store is the only retry layer
        "connection_timeout": opts.connection_timeout,
        "read_timeout": opts.read_timeout,
        "connection_verify": opts.connection_verify,
        "verify_challenge_resource": opts.verify_challenge_resource,
    }
    client_options = opts.client_options
    for key in client_options or {}:
        # These would undo what the options above promise: one retry layer, TLS verified.
        if key in settings or key.startswith("retry"):
            raise ValueError(
                f"client_options cannot set {key!r}: "
                + ("the store is the only retry layer" if key.startswith("retry")
                   else f"pass {key}= to the backend itself")
            )
    settings.update(client_options or {})
    return SecretClient(vault_url, credential, **settings), owned
