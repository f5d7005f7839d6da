"""The Vault backend's options, and the client they build."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal
from urllib.parse import urlsplit

import hvac
import hvac.exceptions
import requests
import requests.adapters

from helium_secrets._options import Options, option, parse_timeout, timeout_problem
from helium_secrets.backends._transport import check_plaintext
from helium_secrets.backends.hashivault.auth import VaultAuth

__all__ = [
    "DEFAULT_MAX_VALUE_BYTES",
    "DEFAULT_PORT",
    "DEFAULT_TIMEOUT",
    "VaultOptions",
    "build_client",
    "check_address",
    "checked_address",
    "tls_settings",
]

#: Vault's own request size limit is 32 MiB, but raft storage entries are 1 MiB; base64 for
#: bytes adds a third. 512 KiB keeps every value comfortably inside one storage entry.
DEFAULT_MAX_VALUE_BYTES = 512 * 1024
DEFAULT_PORT = 8200
#: (connect, read) seconds; the read timeout stays well under the store's default deadline.
DEFAULT_TIMEOUT = (5.0, 10.0)



def _env(name: str) -> tuple[str, str]:
    """A Vault CLI variable (``VAULT_X``), then OpenBao's spelling of it (``BAO_X``)."""
    return f"VAULT_{name}", f"BAO_{name}"


def _mount_problem(mount: str) -> str | None:
    return None if mount.strip("/") else "a KV mount path (it is empty)"



@dataclass(frozen=True, kw_only=True)
class VaultOptions(Options):
    """The options of :class:`VaultBackend` (the table in docs/backends/vault.md).

    Options not given fall back to the environment variables the ``vault`` CLI reads
    (``VAULT_ADDR``, ``VAULT_TOKEN``, ``VAULT_NAMESPACE``, ``VAULT_CACERT``, ``VAULT_CAPATH``,
    ``VAULT_CLIENT_CERT``, ``VAULT_CLIENT_KEY``, ``VAULT_SKIP_VERIFY``,
    ``VAULT_CLIENT_TIMEOUT``; OpenBao's ``BAO_*`` spellings too); with no credentials at all,
    the backend reads ``~/.vault-token``.

    :param address: the server, ``https://host:8200``; ``http://`` only to a loopback address
        unless ``allow_insecure_http``.
    :param mount: the KV mount path.
    :param kv_version: 2 (versioned, check-and-set) or 1.
    :param namespace: the Vault/OpenBao namespace of the mount and of the auth method.
    :param auth: how to log in (:class:`AppRoleAuth`, :class:`KubernetesAuth`, ...).
    :param token: shortcut for ``auth=TokenAuth(token)``.
    :param ca_cert: a CA bundle file to verify the server with.
    :param ca_path: a directory of CA certificates (hashed, as ``c_rehash`` makes it).
    :param client_cert: a client certificate file for TLS client authentication.
    :param client_key: its private key file.
    :param tls_skip_verify: do not verify the server certificate (development only).
    :param allow_insecure_http: allow plain ``http://`` to a non-loopback address.
    :param timeout: seconds per HTTP request, or a ``(connect, read)`` pair.
    :param max_value_bytes: the largest value accepted.
    :param client: a ready :class:`hvac.Client` to use instead of building one; its token is
        still managed through ``auth`` when given. The connection options (address, namespace,
        TLS, timeout) are then the client's, but its address obeys the same plain-http rule,
        and its session is made to refuse redirects to another origin. (The async backend's
        is an ``httpx.AsyncClient``: ``AsyncVaultOptions``.)
    """

    scheme: ClassVar[str] = "vault"
    #: URL syntax that is not an option: ``tls=`` picks the scheme of the host's address, and
    #: ``auth=`` takes the options of its method.
    url_extras: ClassVar[tuple[str, ...]] = (
        "tls", "auth", "auth_mount", "role", "role_id", "secret_id_file", "jwt_file",
        "token_file", "username", "password_file",
    )

    address: str = option("https://127.0.0.1:8200", url="host", env=_env("ADDR"))
    mount: str = option("secret", url="path", check=_mount_problem)
    kv_version: Literal[1, 2] = option(2, query=True)
    namespace: str | None = option(None, query=True, env=_env("NAMESPACE"))
    auth: VaultAuth | None = option(None, url="`?auth=` and its options")
    token: str | None = option(None, env=_env("TOKEN"), secret=True)
    ca_cert: str | None = option(None, query=True, env=_env("CACERT"))
    ca_path: str | None = option(None, query=True, env=_env("CAPATH"))
    client_cert: str | None = option(None, query=True, env=_env("CLIENT_CERT"))
    client_key: str | None = option(None, query=True, env=_env("CLIENT_KEY"))
    tls_skip_verify: bool = option(False, query=True, env=_env("SKIP_VERIFY"))
    allow_insecure_http: bool = option(False, query=True)
    timeout: float | tuple[float, float] = option(
        DEFAULT_TIMEOUT, query=True, env=_env("CLIENT_TIMEOUT"), parse=parse_timeout,
        check=timeout_problem,
    )
    max_value_bytes: int = option(DEFAULT_MAX_VALUE_BYTES, ge=1)
    client: hvac.Client | None = None



def checked_address(opts: VaultOptions) -> str:
    """``opts.address``, refused unless it is ``http(s)://host[:port]`` and obeys the
    plain-http rule (both backends build their client from it).

    :raises ValueError: saying what to change.
    """
    address = opts.address
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"the Vault address must be http(s)://host[:port], not {address!r}")
    check_address(address, opts)
    return address.rstrip("/")


def tls_settings(opts: VaultOptions) -> tuple[bool | str, tuple[str, str] | str | None]:
    """How to verify the server (``False``, ``True`` or a CA file or directory) and the
    client certificate (``(cert, key)``, a file holding both, or ``None``), as requests'
    ``verify`` and ``cert`` take them.

    :raises ValueError: a client key without its certificate.
    """
    verify: bool | str = True
    if opts.tls_skip_verify:
        verify = False
    elif opts.ca_cert:
        verify = opts.ca_cert
    elif opts.ca_path:
        verify = opts.ca_path
    cert: tuple[str, str] | str | None = None
    client_cert, client_key = opts.client_cert, opts.client_key
    if client_cert:
        cert = (client_cert, client_key) if client_key else client_cert
    elif client_key:
        raise ValueError("client_key needs client_cert")
    return verify, cert


def build_client(opts: VaultOptions) -> hvac.Client:
    """An hvac client for ``opts``, its requests adapter without retries, TLS as configured."""
    address = checked_address(opts)
    verify, cert = tls_settings(opts)
    session = requests.Session()
    # No retries below us: the store's retry layer is the only one.
    no_retries = requests.adapters.HTTPAdapter(max_retries=0)
    session.mount("https://", no_retries)
    session.mount("http://", no_retries)
    session.verify = verify
    session.cert = cert
    return hvac.Client(
        url=address, namespace=opts.namespace or None, session=session,
        verify=verify, cert=cert, timeout=opts.timeout,
    )



def check_address(url: str, opts: VaultOptions) -> None:
    """Refuse plain http to ``url`` off loopback unless ``opts.allow_insecure_http``.

    :raises ValueError: saying what to change.
    """
    check_plaintext(url, service="the Vault server", allowed=opts.allow_insecure_http)
