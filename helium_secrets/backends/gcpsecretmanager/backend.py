"""The GCP backend: built from its options; its reads, writes and versions are its bases."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar
from urllib.parse import SplitResult

from google.auth import exceptions as auth_exceptions

from helium_secrets._options import build, parse, query_of
from helium_secrets._values import VersionInfo
from helium_secrets.access import AccessReview
from helium_secrets.backends._base import (
    BackendBase,
    Capabilities,
    Classified,
    RequestTokens,
    extra_operation,
)
from helium_secrets.backends._display import shown_address
from helium_secrets.backends._flows import Flow, run
from helium_secrets.backends._shells import SyncShell
from helium_secrets.backends.gcpsecretmanager.errors import classify
from helium_secrets.backends.gcpsecretmanager.names import MAPPED_NAME_RULES, RAW_NAME_RULES
from helium_secrets.backends.gcpsecretmanager.options import (
    GCPSecretManagerOptions,
    build_client,
    check_client,
)
from helium_secrets.backends.gcpsecretmanager.versions import Versions
from helium_secrets.errors import UnauthenticatedError
from helium_secrets.lifecycle import Lifecycle

__all__ = ["MAX_VALUE_BYTES", "GCPSecretManagerBackend", "GCPSecretManagerCore", "default_credentials",
           "no_credentials"]

T = TypeVar("T")
Self = TypeVar("Self", bound="GCPSecretManagerCore")

#: The service's largest payload.
MAX_VALUE_BYTES = 64 * 1024


def no_credentials() -> UnauthenticatedError:
    return UnauthenticatedError(
        "no Google credentials found: pass credentials= or set up Application Default "
        "Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud auth application-default login)",
        backend=GCPSecretManagerCore.name,
    )


def default_credentials() -> tuple[Any, str | None]:
    import google.auth

    try:
        credentials, project = google.auth.default()
    except auth_exceptions.DefaultCredentialsError as exc:
        raise no_credentials() from exc
    return credentials, project


class GCPSecretManagerCore(Versions):
    """What the sync and the async GCP backends share: their options, capabilities, state and
    operations (as flows), their URL form and error classification. The subclasses only hold
    a client and run the flows on it."""

    name: ClassVar[str] = "gcp"
    #: The options class the URL and keywords are parsed into.
    options_class: ClassVar[type[GCPSecretManagerOptions]] = GCPSecretManagerOptions

    def _configure(self, project: str | None, options: GCPSecretManagerOptions | None,
                   keywords: dict[str, Any]) -> tuple[GCPSecretManagerOptions, Any]:
        """Resolve the options and the state built from them; return them with the
        credentials to build a client with (``None``: the client finds its own).

        :raises ValueError: regional secrets with replicas, or no project anywhere.
        :raises UnauthenticatedError: no project given, and no application default credentials.
        """
        if project is not None:
            keywords["project"] = project
        self._options = opts = build(self.options_class, options, keywords)
        project, location, credentials = opts.project, opts.location, opts.credentials
        current_alias, raw_names = opts.current_alias, opts.raw_names
        if location is not None and opts.replica_locations:
            raise ValueError("regional secrets (location=) take no replica_locations")
        if project is None:
            found, project = default_credentials()
            if credentials is None:
                credentials = found
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
        self._owns_client = opts.client is None
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
        return opts, credentials

    @property
    def options(self) -> GCPSecretManagerOptions:
        """The resolved options (read-only)."""
        return self._options

    @classmethod
    def from_url(cls: type[Self], url: SplitResult, **keywords: Any) -> Self:
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
        return cls(options=parse(cls.options_class, keywords=keywords,  # type: ignore[call-arg]
                                 query=query_of(url),
                                 url={"project": url.netloc} if url.netloc else {}))

    def classify(self, exc: BaseException) -> Classified | None:
        return classify(exc, self.endpoint)

    @property
    def endpoint(self) -> str:
        """The API's ``host:port`` the client calls."""
        raise NotImplementedError

    def __repr__(self) -> str:
        where = f" location={self.location!r}" if self.location else ""
        return (f"<{type(self).__name__} project={self.project!r}{where} "
                f"endpoint={shown_address(self.endpoint)}>")


class GCPSecretManagerBackend(GCPSecretManagerCore, SyncShell, BackendBase):
    """GCP Secret Manager, global or regional, through ``SecretManagerServiceClient``.

    :param project: the project (see :class:`GCPSecretManagerOptions`).
    :param options: a ready :class:`GCPSecretManagerOptions`, or pass its fields as keywords.
    """

    def __init__(
        self,
        project: str | None = None,
        *,
        options: GCPSecretManagerOptions | None = None,
        **keywords: Any,
    ) -> None:
        opts, credentials = self._configure(project, options, keywords)
        client = opts.client
        if client is None:
            try:
                client = build_client(opts, credentials)
            except auth_exceptions.DefaultCredentialsError as exc:
                raise no_credentials() from exc
        else:
            check_client(client, opts)
        self._client = client

    def _run(self, flow: Flow[T]) -> T:
        return run(flow, self._client)

    @property
    def endpoint(self) -> str:
        # An insecure (emulator) channel is a transport of its own: the client reports the
        # default endpoint then, not the one it calls.
        return str(self._options.endpoint_url or getattr(self._client, "api_endpoint", "") or "")

    @extra_operation(writes=False)
    def access(self, name: str) -> AccessReview:
        """Who the secret's own IAM policy (``GetIamPolicy``, one call of the read quota) lets
        read it: the members of its bindings to a role with
        ``secretmanager.versions.access``; a custom role's bindings are listed as conditional.
        Project, folder and organisation policies can grant access too, and are not shown."""
        return self._run(self._access_review(name))

    @extra_operation(writes=False)
    def describe(self, name: str) -> Lifecycle:
        """The secret's lifecycle from GetSecret and ListSecretVersions (two calls on the
        600/min read quota; no value is accessed): ``create_time``, the current version's
        ``create_time``, ``expire_time``, ``rotation.next_rotation_time`` and whether a rotation
        schedule is set. Secret Manager records neither past rotations nor reads."""
        return self._run(self._lifecycle(name))

    # -- version states (GCP specific): store.extras.<method>(name, version), through the
    # store's call pipeline, which checks the name and translates the errors.

    @extra_operation(writes=True)
    def disable_version(self, name: str, version: str, *, etag: str | None = None) -> VersionInfo:
        """Disable ``version`` of ``name``: it can't be read until enabled again.

        :param etag: only if the version's etag is still this one.
        :raises HeliumError: the service refused (not found, permission denied, ...).
        """
        return self._run(self._change_state("disable_secret_version", name, version, etag))

    @extra_operation(writes=True)
    def enable_version(self, name: str, version: str, *, etag: str | None = None) -> VersionInfo:
        """Enable a disabled ``version`` of ``name`` again.

        :param etag: only if the version's etag is still this one.
        :raises HeliumError: the service refused (a destroyed version can't be enabled, ...).
        """
        return self._run(self._change_state("enable_secret_version", name, version, etag))

    @extra_operation(writes=True)
    def destroy_version(self, name: str, version: str, *, etag: str | None = None) -> VersionInfo:
        """Destroy ``version`` of ``name``: its value is erased for good.

        :param etag: only if the version's etag is still this one.
        :raises HeliumError: the service refused.
        """
        return self._run(self._change_state("destroy_secret_version", name, version, etag))

    def close(self) -> None:
        if self._owns_client:
            transport: Any = self._client.transport
            transport.close()
