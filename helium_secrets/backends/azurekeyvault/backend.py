"""The Key Vault backend: reads, writes, the staging companion and soft delete, on
``SecretClient``."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, ClassVar
from urllib.parse import SplitResult

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.keyvault.secrets import KeyVaultSecret, SecretProperties

from helium_secrets._options import build, parse, query_of
from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import (
    BackendBase,
    Capabilities,
    Classified,
    RawSecret,
    extra_operation,
)
from helium_secrets.backends._display import shown_address
from helium_secrets.backends.azurekeyvault.errors import classify
from helium_secrets.backends.azurekeyvault.names import (
    ESCAPED_RULES,
    MAX_NAME_LENGTH,
    STAGED_SUFFIX,
    VERBATIM_RULES,
    VERSION_ID,
    decode_name,
    encode_name,
    vault_name_problem,
)
from helium_secrets.backends.azurekeyvault.options import (
    AzureKeyVaultOptions,
    build_client,
    check_vault_url,
)
from helium_secrets.backends.azurekeyvault.values import (
    INTERNAL_TAGS,
    MAX_TAGS,
    MAX_VALUE_BYTES,
    ORDER_TAG,
    age,
    decode_value,
    encode_value,
    metadata_of,
    version_info,
)
from helium_secrets.errors import (
    DeadlineExceededError,
    HeliumError,
    InvalidArgumentError,
    InvalidNameError,
    SecretNotFoundError,
    UnsupportedError,
    VersionNotFoundError,
    error_for_code,
)
from helium_secrets.lifecycle import Lifecycle

__all__ = ["AzureKeyVaultBackend"]

#: The mark of a staging companion's name (see ``staging_companion``).
COMPANION_MARK = "~staged"


class AzureKeyVaultBackend(BackendBase):
    """Secrets in one Azure Key Vault.

    :param vault_url: the vault's URL (see :class:`AzureKeyVaultOptions`).
    :param options: a ready :class:`AzureKeyVaultOptions`, or pass its fields as keywords.
    :raises ValueError: an option is invalid (before any call).
    """

    name: ClassVar[str] = "azure"

    def __init__(
        self,
        vault_url: str | None = None,
        *,
        options: AzureKeyVaultOptions | None = None,
        **keywords: Any,
    ) -> None:
        if vault_url is not None:
            keywords["vault_url"] = vault_url
        self._options = opts = build(AzureKeyVaultOptions, options, keywords)
        client = opts.client
        if opts.connection_verify is False:
            raise ValueError("TLS verification cannot be turned off; pass a CA bundle path")
        self._verbatim = opts.names == "verbatim"
        self.capabilities = Capabilities(
            binary=True,
            versions=True,
            labels=False,
            max_value_bytes=MAX_VALUE_BYTES,
            name_rules=VERBATIM_RULES if self._verbatim else ESCAPED_RULES,
            version_probe=False,  # Key Vault has no cheaper "current version" call than a get
            batch_get=0,
            idempotent_put=False,
            check_and_set=False,  # expected_version is checked, but not atomically
            staging=False,
            # A hidden "<name>-0staged" secret could clash with a verbatim name.
            staging_companion=not self._verbatim,
        )
        self._recover_deleted = opts.recover_deleted
        self._honour_dates = opts.honour_dates
        self._poll_interval = opts.poll_interval
        self._wait_timeout = opts.wait_timeout
        self._owned_credential: Any = None
        if client is not None:
            check_vault_url(client.vault_url)
            self._client = client
            self._owns_client = False
        else:
            self._client, self._owned_credential = build_client(opts)
            self._owns_client = True

    @property
    def options(self) -> AzureKeyVaultOptions:
        """The resolved options (read-only)."""
        return self._options

    @classmethod
    def from_url(cls, url: SplitResult, **keywords: Any) -> AzureKeyVaultBackend:
        """Build the backend from ``azurekeyvault://<vault>[?option=value...]``.

        URL options: ``names``, ``recover_deleted``, ``honour_dates``,
        ``verify_challenge_resource``, ``poll_interval``, ``wait_timeout``.
        """
        host = url.hostname
        if not host or url.username or url.password:
            raise ValueError(
                "azurekeyvault:// URLs name the vault: azurekeyvault://<vault-name> or "
                "azurekeyvault://<host>[:port]"
            )
        if url.path not in ("", "/"):
            raise ValueError("azurekeyvault:// URLs take no path")
        netloc = url.netloc
        if "." not in host and url.port is None and host != "localhost":
            problem = vault_name_problem(host)
            if problem is not None:
                raise ValueError(problem)
            netloc = f"{host}.vault.azure.net"
        return cls(options=parse(AzureKeyVaultOptions, keywords=keywords, query=query_of(url),
                                 url={"vault_url": f"https://{netloc}"}))

    # -- names and values -----------------------------------------------------------------

    def kv_name(self, name: str) -> str:
        """The Key Vault name a portable name (or its staging companion) maps to."""
        if name.endswith(COMPANION_MARK):
            return self.kv_name(name[: -len(COMPANION_MARK)]) + STAGED_SUFFIX
        return name if self._verbatim else encode_name(name)

    def portable_name(self, kv_name: str) -> str | None:
        """The portable name of a Key Vault name, or ``None`` when none maps to it."""
        if self._verbatim:
            return kv_name
        return decode_name(kv_name)

    def _check_dates(self, props: SecretProperties) -> None:
        if not self._honour_dates:
            return
        now = datetime.now(timezone.utc)
        expires, not_before = props.expires_on, props.not_before
        if expires is not None and expires <= now:
            raise VersionNotFoundError(
                f"the secret version expired at {expires.isoformat()} (its exp attribute); "
                "open the store with honour_dates=False to read it anyway",
                version=props.version,
            )
        if not_before is not None and not_before > now:
            raise VersionNotFoundError(
                f"the secret version is not valid before {not_before.isoformat()} (its nbf "
                "attribute); open the store with honour_dates=False to read it anyway",
                version=props.version,
            )

    # -- the protocol ---------------------------------------------------------------------

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        if label is not None:
            raise UnsupportedError("Azure Key Vault has no labels")
        kv = self.kv_name(name)
        if version is not None and not VERSION_ID.fullmatch(version):
            raise VersionNotFoundError("not a Key Vault version id", version=version)
        # A 404 (no such secret, or no such version: the store asks which) is raised.
        secret = self._client.get_secret(kv, version)
        self._check_dates(secret.properties)
        return RawSecret(
            name=name,
            value=decode_value(secret),
            version=secret.properties.version or "",
            created_at=secret.properties.created_on,
            metadata=metadata_of(secret.properties.tags),
        )

    def _current(self, kv: str) -> str | None:
        """The current version id, or ``None`` when the secret does not exist."""
        try:
            return self._client.get_secret(kv).properties.version
        except ResourceNotFoundError:
            return None

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
        if labels:
            raise UnsupportedError("Azure Key Vault has no labels")
        kv = self.kv_name(name)
        text, content_type = encode_value(value)
        tags = dict(metadata or {})
        if len(tags) >= MAX_TAGS:
            raise InvalidArgumentError(
                f"Key Vault takes at most {MAX_TAGS} tags per version and one is used for "
                f"ordering versions: pass at most {MAX_TAGS - 1} metadata entries"
            )
        if any(len(k) > 512 or len(v) > 512 for k, v in tags.items()):
            raise InvalidArgumentError("Key Vault tag names and values are at most 512 long")
        reserved = sorted(INTERNAL_TAGS & tags.keys())
        if reserved:
            raise InvalidArgumentError(f"the tag names {reserved} are reserved by helium-secrets")
        # No conditional write on Key Vault (capabilities.check_and_set is False): the store
        # checks expected_version / create_only with a read first and never passes them here.
        # A companion left soft-deleted by an earlier rotation (purge refused) is reused.
        recover = self._recover_deleted or name.endswith(COMPANION_MARK)
        written = self._set(kv, text, content_type, tags, recover=recover)
        return version_info(written.properties)

    def _set(
        self, kv: str, text: str, content_type: str | None, tags: dict[str, str], *,
        recover: bool,
    ) -> KeyVaultSecret:
        """Write a version; with ``recover``, first recover a deleted-but-recoverable name."""
        tags[ORDER_TAG] = str(time.time_ns())
        try:
            return self._client.set_secret(kv, text, content_type=content_type, tags=tags)
        except ResourceExistsError:
            if not recover:
                raise
        self._wait(self._client.begin_recover_deleted_secret(
            kv, _polling_interval=self._poll_interval), "recover")
        return self._client.set_secret(kv, text, content_type=content_type, tags=tags)

    # -- the staging companion: the store stages a value in a hidden secret ------------------

    def staging_companion(self, name: str) -> str:
        # "NAME~staged" (no portable name has a "~") maps to the Key Vault name
        # "<kv-name>-0staged", which no portable name maps to, so list never shows it.
        kv = self.kv_name(name)
        if len(kv) + len(STAGED_SUFFIX) > MAX_NAME_LENGTH:
            raise InvalidNameError(
                f"staged rotation needs a Key Vault name of at most "
                f"{MAX_NAME_LENGTH - len(STAGED_SUFFIX)} characters; this one has {len(kv)}"
            )
        return name + COMPANION_MARK

    def _wait(self, poller: Any, what: str) -> Any:
        poller.wait(timeout=self._wait_timeout)
        if not poller.done():
            raise DeadlineExceededError(
                f"Key Vault did not finish the {what} within {self._wait_timeout:g}s"
            )
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
            # A companion under purge protection (or without the purge permission) stays
            # soft-deleted, and the next staging recovers and overwrites it.
            if exc.status_code != 403 or not name.endswith(COMPANION_MARK):
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

    @contextlib.contextmanager
    def _direct(self) -> Iterator[None]:
        """Raise helium errors, chained with ``from``, from a call made around the store."""
        try:
            yield
        except HeliumError as exc:
            exc.backend = self.name
            raise
        except Exception as exc:
            verdict = classify(exc)
            if verdict is None:
                raise
            raise error_for_code(verdict.code)(
                verdict.message or verdict.code.value, backend=self.name,
                transient=verdict.transient, retry_after=verdict.retry_after,
            ) from exc

    def list_deleted(self, prefix: str = "") -> Iterator[str]:
        """Return the portable names of deleted, recoverable secrets under ``prefix``.

        :raises HeliumError: Key Vault refused (no list permission, ...).
        """
        names = []
        with self._direct():
            for deleted in self._client.list_deleted_secrets():
                portable = self.portable_name(deleted.name or "")
                if portable is not None and portable.startswith(prefix):
                    names.append(portable)
        return iter(names)

    def list_names(self, prefix: str = "") -> Iterator[str]:
        # Key Vault filters nothing server-side: list everything, keep what decodes and matches.
        for props in self._client.list_properties_of_secrets():
            portable = self.portable_name(props.name or "")
            if portable is not None and portable.startswith(prefix):
                yield portable

    def list_versions(self, name: str) -> list[VersionInfo]:
        items = list(self._client.list_properties_of_secret_versions(self.kv_name(name)))
        if not items:
            raise SecretNotFoundError("secret not found")
        items.sort(key=age)
        return [
            VersionInfo(
                version=props.version or "",
                created_at=props.created_on,
                state="disabled" if props.enabled is False else "enabled",
            )
            for props in items
        ]

    def classify(self, exc: BaseException) -> Classified | None:
        return classify(exc, self.vault_url)

    @property
    def vault_url(self) -> str:
        """The vault this backend talks to."""
        return str(getattr(self._client, "vault_url", "") or self._options.vault_url or "")

    def __repr__(self) -> str:
        return (f"<AzureKeyVaultBackend {shown_address(self.vault_url)} "
                f"names={self._options.names}>")

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
        items = sorted(self._client.list_properties_of_secret_versions(self.kv_name(name)),
                       key=age)
        if not items:
            raise SecretNotFoundError("secret not found")
        current = items[-1]
        return Lifecycle(name, _DESCRIBED, created_at=items[0].created_on,
                         updated_at=current.created_on, expires_at=current.expires_on,
                         current_version=current.version, versions=len(items))


#: What the versions' attributes tell.
_DESCRIBED = frozenset({"created_at", "updated_at", "expires_at", "current_version", "versions"})
