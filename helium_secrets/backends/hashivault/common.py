"""What both Vault backends (:class:`~.backend.VaultBackend` on hvac and
:class:`~.aio.AsyncVaultBackend` on httpx) share before any I/O: their options, URL form,
credentials, capabilities and the KV operations (:class:`~.core.VaultKV`)."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar
from urllib.parse import SplitResult

from helium_secrets._options import build, parse, query_flag, query_of
from helium_secrets.backends._base import Classified
from helium_secrets.backends._display import shown_address
from helium_secrets.backends.hashivault.auth import auth_from_query, resolve_auth
from helium_secrets.backends.hashivault.classify import classify
from helium_secrets.backends.hashivault.core import VaultKV, capabilities
from helium_secrets.backends.hashivault.options import DEFAULT_PORT, VaultOptions

__all__ = ["VaultBackendBase"]

B = TypeVar("B", bound="VaultBackendBase")


class VaultBackendBase:
    """The options, URL form, credentials and capabilities of a Vault backend; a subclass
    makes its client in :meth:`_open`. (Not a ``BackendBase``: its defaults
    are the sync protocol's.)

    :param address: the server (see :class:`VaultOptions`).
    :param options: a ready :class:`VaultOptions`, or pass its fields as keywords.
    """

    name: ClassVar[str] = "vault"
    #: The options' schema (the async backend's types its ``client`` as httpx's).
    options_class: ClassVar[type[VaultOptions]] = VaultOptions

    def __init__(
        self,
        address: str | None = None,
        *,
        options: VaultOptions | None = None,
        **keywords: Any,
    ) -> None:
        if address is not None:
            keywords["address"] = address
        self._options = opts = build(self.options_class, options, keywords)
        self.mount = opts.mount.strip("/")
        self.kv_version = opts.kv_version
        client, token = opts.client, opts.token
        given_token = token is not None and opts.source("token") == "keyword"
        if opts.auth is not None and given_token:
            raise ValueError("pass auth= or token=, not both")
        brought = getattr(client, "token", None)  # an hvac client's; an httpx one has none
        if client is not None and opts.auth is None and not given_token and brought:
            token = brought  # a ready client brings its token, before VAULT_TOKEN
        self.auth = resolve_auth(opts.auth, token)
        self.capabilities = capabilities(opts.kv_version, opts.max_value_bytes)
        address, namespace = self._open(opts)
        self.address: str = address
        self.namespace: str | None = namespace
        self._kv = VaultKV(mount=self.mount, kv_version=self.kv_version, address=address,
                           namespace=namespace)

    def _open(self, opts: VaultOptions) -> tuple[str, str | None]:
        """Make the client (connecting nowhere yet); return the address and namespace it
        uses, which the KV steps name."""
        raise NotImplementedError

    def __repr__(self) -> str:
        namespace = f" namespace={self.namespace!r}" if self.namespace else ""
        return (f"<{type(self).__name__} {shown_address(self.address)} mount={self.mount!r} "
                f"kv=v{self.kv_version}{namespace} auth={self.auth.method}>")

    @property
    def options(self) -> VaultOptions:
        """The resolved options (read-only)."""
        return self._options

    @classmethod
    def from_url(cls: type[B], url: SplitResult, **keywords: Any) -> B:
        """Build from ``vault://host[:port]/mount?option=value&...``.

        An empty host uses ``VAULT_ADDR``. Query options: ``namespace``, ``kv_version``,
        ``tls`` (``false`` for plain http), ``allow_insecure_http``, ``ca_cert``, ``ca_path``,
        ``client_cert``, ``client_key``, ``tls_skip_verify``, ``timeout``, ``auth`` (``token``,
        ``approle``, ``kubernetes``, ``jwt``, ``userpass``) with ``auth_mount``, ``role``,
        ``role_id``, ``secret_id_file``, ``jwt_file``, ``token_file``, ``username``,
        ``password_file``. Credentials themselves never go in a URL: pass them by keyword.
        """
        query = query_of(url)
        refused = sorted(set(query) & {"token", "secret_id", "password", "jwt"})
        if refused:
            raise ValueError(
                f"credentials do not belong in a store URL ({', '.join(refused)}): pass them "
                "by keyword, or name a file (token_file, secret_id_file, password_file, jwt_file)"
            )
        derived: dict[str, Any] = {}
        tls = query.pop("tls", None)
        if url.netloc:
            secure = tls is None or query_flag(VaultOptions, "tls", tls)
            host = url.hostname or ""
            port = url.port or DEFAULT_PORT
            shown = f"[{host}]" if ":" in host else host
            derived["address"] = f"{'https' if secure else 'http'}://{shown}:{port}"
        elif tls is not None:
            raise ValueError("tls= needs a host in the URL (VAULT_ADDR carries its own scheme)")
        if url.path.strip("/"):
            derived["mount"] = url.path.strip("/")
        method = query.pop("auth", None)
        if method is not None:
            derived["auth"] = auth_from_query(method, query)
        stray = sorted(set(query) & set(VaultOptions.url_extras))
        if stray:
            raise ValueError(
                f"the vault:// URL option(s) {', '.join(stray)} do not apply to "
                + (f"auth={method}" if method is not None else "a URL without auth=")
            )
        return cls(options=parse(cls.options_class, keywords=keywords, query=query,
                                 url=derived))

    def classify(self, exc: BaseException) -> Classified | None:
        return classify(exc, self.address)
