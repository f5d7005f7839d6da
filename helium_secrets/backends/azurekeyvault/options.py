"""Key Vault's options, and the ``SecretClient`` built from them."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from azure.core.credentials import TokenCredential
from azure.core.pipeline.policies import RedirectPolicy
from azure.keyvault.secrets import SecretClient

from helium_secrets._options import (
    Options,
    option,
    parse_timeout,
    timeout_pair,
    timeout_problem,
)
from helium_secrets.backends._transport import check_redirect, origin

__all__ = ["AzureKeyVaultOptions", "SameOrigin", "SameOriginRedirects", "build_client",
           "check_vault_url", "client_settings"]


@dataclass(frozen=True, kw_only=True)
class AzureKeyVaultOptions(Options):
    """The options of :class:`AzureKeyVaultBackend` (the table in docs/backends/azure.md).

    :param vault_url: the vault's URL, ``https://<vault>.vault.azure.net``.
    :param credential: any azure-core ``TokenCredential``; default ``DefaultAzureCredential()``
        (from azure-identity, closed with the backend).
    :param client: a ready ``SecretClient`` to use instead (its retry and redirect policies
        are then yours to set; its ``vault_url`` must be https; it is not closed with the
        backend).
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
    :param timeout: seconds per request, or a ``(connect, read)`` pair (``5,60`` in a URL), the
        same option as on every other backend; default 10 s to connect, 60 s to read.
    :param connection_timeout: deprecated: ``timeout=(connect, read)``.
    :param read_timeout: deprecated: ``timeout=(connect, read)``.
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
    timeout: float | tuple[float, float] = option((10.0, 60.0), query=True, parse=parse_timeout,
                              check=timeout_problem)
    connection_timeout: float | None = option(None, gt=0)
    read_timeout: float | None = option(None, gt=0)
    client_options: Mapping[str, Any] | None = None


def client_settings(opts: AzureKeyVaultOptions) -> dict[str, Any]:
    """The ``SecretClient`` keywords ``opts`` describe, the same for the sync and the async
    client (azure-core's retries off, TLS verified, redirects kept within the vault; the
    redirect policy is added by the caller, in its pipeline's flavour).

    :raises ValueError: no ``vault_url``, one that is not https, or ``client_options`` that
        would undo the above (retries, TLS verification, redirects kept within the vault).
    """
    vault_url = opts.vault_url
    if not vault_url:
        raise ValueError("the Azure Key Vault backend needs vault_url or client")
    check_vault_url(vault_url)
    connect, read = timeout_pair(opts.timeout)
    if opts.connection_timeout is not None or opts.read_timeout is not None:
        warnings.warn("connection_timeout= and read_timeout= are deprecated: pass "
                      "timeout=(connect, read)", DeprecationWarning, stacklevel=4)
        connect = opts.connection_timeout if opts.connection_timeout is not None else connect
        read = opts.read_timeout if opts.read_timeout is not None else read
    settings: dict[str, Any] = {
        "retry_total": 0,  # the store is the only retry layer
        "connection_timeout": connect,
        "read_timeout": read,
        "connection_verify": opts.connection_verify,
        "verify_challenge_resource": opts.verify_challenge_resource,
        "redirect_policy": None,
    }
    client_options = opts.client_options
    for key in client_options or {}:
        # These would undo what the options above promise: one retry layer, TLS verified,
        # no redirect to another origin.
        if key in settings or key.startswith(("retry", "redirect", "permit_redirects")):
            raise ValueError(
                f"client_options cannot set {key!r}: "
                + ("the store is the only retry layer" if key.startswith("retry")
                   else "redirects stay within the vault's origin" if "redirect" in key
                   else f"pass {key}= to the backend itself")
            )
    settings.update(client_options or {})
    return settings


def build_client(opts: AzureKeyVaultOptions) -> tuple[SecretClient, Any]:
    """The ``SecretClient`` ``opts`` describe (see :func:`client_settings`), and the
    credential made for it, which its owner closes (``None`` when ``opts.credential`` is
    given)."""
    settings = client_settings(opts)
    settings["redirect_policy"] = SameOriginRedirects()
    credential: Any = opts.credential
    owned = None
    if credential is None:
        from azure.identity import DefaultAzureCredential

        credential = owned = DefaultAzureCredential()
    return SecretClient(str(opts.vault_url), credential, **settings), owned


def check_vault_url(url: str) -> None:
    """https only, loopback included: azure-keyvault-secrets sends its bearer token over TLS
    only, so there is no plaintext to opt into.

    :raises ValueError: naming the address refused.
    """
    if not url.lower().startswith("https://"):
        shown = origin(url) if "://" in url else "a URL without a scheme"
        raise ValueError(f"the vault URL must be https://, not {shown}")


class SameOrigin:
    """Refuses, in azure-core's redirect policies (sync and async), a redirect that leaves the
    vault's origin: azure-core strips ``Authorization`` then, but would still send a 307's body
    (the secret value of a set) there, and ask the credential for a token for whatever that
    server's challenge names."""

    def increment(self, settings: dict[str, Any], response: Any, redirect_location: str) -> bool:
        check_redirect(response.http_request.url, redirect_location)
        return super().increment(settings, response, redirect_location)  # type: ignore[misc, no-any-return]


class SameOriginRedirects(SameOrigin, RedirectPolicy[Any, Any]):
    """azure-core's redirect policy, within the vault's origin only (:class:`SameOrigin`)."""
