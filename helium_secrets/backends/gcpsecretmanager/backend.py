"""The GCP backend: built from its options; its reads, writes and versions are its bases."""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import SplitResult

from google.auth import exceptions as auth_exceptions

from helium_secrets._options import build, parse, query_of
from helium_secrets.backends._base import Capabilities, Classified, RequestTokens
from helium_secrets.backends._display import shown_address
from helium_secrets.backends.gcpsecretmanager.errors import classify
from helium_secrets.backends.gcpsecretmanager.names import MAPPED_NAME_RULES, RAW_NAME_RULES
from helium_secrets.backends.gcpsecretmanager.options import (
    GCPSecretManagerOptions,
    build_client,
    check_client,
)
from helium_secrets.backends.gcpsecretmanager.versions import Versions
from helium_secrets.errors import UnauthenticatedError

__all__ = ["MAX_VALUE_BYTES", "GCPSecretManagerBackend"]

#: The service's largest payload.
MAX_VALUE_BYTES = 64 * 1024


def _no_credentials() -> UnauthenticatedError:
    return UnauthenticatedError(
        "no Google credentials found: pass credentials= or set up Application Default "
        "Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud auth application-default login)",
        backend=GCPSecretManagerBackend.name,
    )


def _default_credentials() -> tuple[Any, str | None]:
    import google.auth

    try:
        credentials, project = google.auth.default()
    except auth_exceptions.DefaultCredentialsError as exc:
        raise _no_credentials() from exc
    return credentials, project


class GCPSecretManagerBackend(Versions):
    """GCP Secret Manager, global or regional, through ``SecretManagerServiceClient``.

    :param project: the project (see :class:`GCPSecretManagerOptions`).
    :param options: a ready :class:`GCPSecretManagerOptions`, or pass its fields as keywords.
    """

    name: ClassVar[str] = "gcp"

    def __init__(
        self,
        project: str | None = None,
        *,
        options: GCPSecretManagerOptions | None = None,
        **keywords: Any,
    ) -> None:
        if project is not None:
            keywords["project"] = project
        self._options = opts = build(GCPSecretManagerOptions, options, keywords)
        project, location, credentials, client = (
            opts.project, opts.location, opts.credentials, opts.client
        )
        current_alias, raw_names = opts.current_alias, opts.raw_names
        if location is not None and opts.replica_locations:
            raise ValueError("regional secrets (location=) take no replica_locations")
        if project is None:
            default_credentials, project = _default_credentials()
            if credentials is None:
                credentials = default_credentials
            if not project:
                raise ValueError(
                    "no GCP project: pass project=, put it in the URL "
                    "(gcpsecretmanager://PROJECT) or set GOOGLE_CLOUD_PROJECT"
                )
        self.project = project
        self.location = location
        self._parent = f"projects/{project}" + (f"/locations/{location}" if location else "")
        self._replicas = opts.replica_locations
        self._timeout = opts.timeout
        self._page_size = opts.page_size
        self._read_metadata = opts.read_metadata
        self._raw_names = raw_names
        self._current_alias = current_alias
        # Put retries recognised by their request token (alias mode reuses a lost version).
        self._tokens: RequestTokens[bool] = RequestTokens()
        self._owns_client = client is None
        if client is None:
            try:
                client = build_client(opts, credentials)
            except auth_exceptions.DefaultCredentialsError as exc:
                raise _no_credentials() from exc
        else:
            check_client(client, opts)
        self._client = client
        self.capabilities = Capabilities(
            binary=True,
            versions=True,
            labels=True,
            max_value_bytes=MAX_VALUE_BYTES,
            name_rules=RAW_NAME_RULES if raw_names else MAPPED_NAME_RULES,
            version_probe=True,
            batch_get=0,
            idempotent_put=False,
            check_and_set=current_alias is not None,
            staging=current_alias is not None,
        )

    @property
    def options(self) -> GCPSecretManagerOptions:
        """The resolved options (read-only)."""
        return self._options

    @classmethod
    def from_url(cls, url: SplitResult, **keywords: Any) -> GCPSecretManagerBackend:
        """``gcpsecretmanager://[PROJECT][?location=&replica_locations=a,b&endpoint_url=&insecure=
        &allow_insecure_http=&timeout=&page_size=&read_metadata=&raw_names=&current_alias=]``;
        keyword options win over the URL."""
        if url.path not in ("", "/"):
            raise ValueError("gcpsecretmanager:// URLs take no path; use ?location= for a region")
        if "@" in url.netloc:
            raise ValueError(
                "gcpsecretmanager:// URLs name the project as the host and carry no credentials: "
                "pass credentials= instead"
            )
        return cls(options=parse(GCPSecretManagerOptions, keywords=keywords, query=query_of(url),
                                 url={"project": url.netloc} if url.netloc else {}))

    def classify(self, exc: BaseException) -> Classified | None:
        return classify(exc, self.endpoint)

    @property
    def endpoint(self) -> str:
        """The API's ``host:port`` the client calls."""
        # An insecure (emulator) channel is a transport of its own: the client reports the
        # default endpoint then, not the one it calls.
        return str(self._options.endpoint_url or getattr(self._client, "api_endpoint", "") or "")

    def __repr__(self) -> str:
        where = f" location={self.location!r}" if self.location else ""
        return (f"<GCPSecretManagerBackend project={self.project!r}{where} "
                f"endpoint={shown_address(self.endpoint)}>")

    def close(self) -> None:
        if self._owns_client:
            transport: Any = self._client.transport
            transport.close()
