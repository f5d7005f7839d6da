"""What both Key Vault backends (:class:`~.backend.AzureKeyVaultBackend` on ``SecretClient``
and :class:`~.aio.AsyncAzureKeyVaultBackend` on its ``aio`` twin) share without I/O: options
and URL form, capabilities, the name mapping, what a read or a listing answers, how a write is
prepared, and classification. The twins only make the SDK calls."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, ClassVar, TypeVar
from urllib.parse import SplitResult

from azure.core.exceptions import HttpResponseError
from azure.keyvault.secrets import KeyVaultSecret, SecretProperties

from helium_secrets._options import build, parse, query_of
from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import Capabilities, Classified, RawSecret
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
from helium_secrets.backends.azurekeyvault.options import AzureKeyVaultOptions
from helium_secrets.backends.azurekeyvault.values import (
    INTERNAL_TAGS,
    MAX_TAGS,
    MAX_VALUE_BYTES,
    ORDER_TAG,
    age,
    decode_value,
    encode_value,
    metadata_of,
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

__all__ = ["COMPANION_MARK", "AzureKeyVaultBackendBase", "Write"]

B = TypeVar("B", bound="AzureKeyVaultBackendBase")

#: The mark of a staging companion's name (see ``staging_companion``).
COMPANION_MARK = "~staged"


class Write:
    """A prepared ``set_secret``: the Key Vault name, text, content type and tags, and
    whether a deleted-but-recoverable name is recovered first."""

    __slots__ = ("content_type", "kv", "recover", "tags", "text")

    def __init__(self, kv: str, text: str, content_type: str | None, tags: dict[str, str],
                 recover: bool) -> None:
        self.kv, self.text, self.content_type = kv, text, content_type
        self.tags, self.recover = tags, recover

    def __repr__(self) -> str:
        return f"<Write {self.kv}>"  # never the text


class AzureKeyVaultBackendBase:
    """The I/O-free part of a Key Vault backend; a subclass makes the client.

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
        self._client: Any = None

    @property
    def options(self) -> AzureKeyVaultOptions:
        """The resolved options (read-only)."""
        return self._options

    @classmethod
    def from_url(cls: type[B], url: SplitResult, **keywords: Any) -> B:
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

    def _read_target(self, name: str, version: str | None, label: str | None) -> str:
        """The Key Vault name a read of ``name`` asks for (``version`` checked first)."""
        if label is not None:
            raise UnsupportedError("Azure Key Vault has no labels")
        kv = self.kv_name(name)
        if version is not None and not VERSION_ID.fullmatch(version):
            raise VersionNotFoundError("not a Key Vault version id", version=version)
        return kv

    def _raw(self, name: str, secret: KeyVaultSecret) -> RawSecret:
        """What a read of ``name`` answered, as the store takes it."""
        props = secret.properties
        self._check_dates(props)
        return RawSecret(
            name=name,
            value=decode_value(secret),
            version=props.version or "",
            created_at=props.created_on,
            metadata=metadata_of(props.tags),
        )

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

    def _write(self, name: str, value: str | bytes, metadata: Mapping[str, str] | None,
               labels: Sequence[str]) -> Write:
        """The write a put of ``name`` makes, checked before any call."""
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
        tags[ORDER_TAG] = str(time.time_ns())  # orders versions written within one second
        return Write(kv, text, content_type, tags, recover)

    def _companion(self, name: str) -> str:
        # "NAME~staged" (no portable name has a "~") maps to the Key Vault name
        # "<kv-name>-0staged", which no portable name maps to, so list never shows it.
        kv = self.kv_name(name)
        if len(kv) + len(STAGED_SUFFIX) > MAX_NAME_LENGTH:
            raise InvalidNameError(
                f"staged rotation needs a Key Vault name of at most "
                f"{MAX_NAME_LENGTH - len(STAGED_SUFFIX)} characters; this one has {len(kv)}"
            )
        return name + COMPANION_MARK

    def _timed_out(self, what: str) -> DeadlineExceededError:
        return DeadlineExceededError(
            f"Key Vault did not finish the {what} within {self._wait_timeout:g}s")

    @staticmethod
    def _purge_refusal_is_fine(exc: HttpResponseError, name: str) -> bool:
        # A companion under purge protection (or without the purge permission) stays
        # soft-deleted, and the next staging recovers and overwrites it.
        return exc.status_code == 403 and name.endswith(COMPANION_MARK)

    # -- listings ---------------------------------------------------------------------------

    def _under(self, kv_name: str | None, prefix: str) -> str | None:
        """The portable name of a listed Key Vault name, if it is one under ``prefix``."""
        portable = self.portable_name(kv_name or "")
        return portable if portable is not None and portable.startswith(prefix) else None

    @staticmethod
    def _versions(items: Iterable[SecretProperties]) -> list[VersionInfo]:
        ordered = sorted(items, key=age)
        if not ordered:
            raise SecretNotFoundError("secret not found")
        return [
            VersionInfo(
                version=props.version or "",
                created_at=props.created_on,
                state="disabled" if props.enabled is False else "enabled",
            )
            for props in ordered
        ]

    @staticmethod
    def _described(name: str, items: Iterable[SecretProperties]) -> Lifecycle:
        ordered = sorted(items, key=age)
        if not ordered:
            raise SecretNotFoundError("secret not found")
        current = ordered[-1]
        return Lifecycle(name, _DESCRIBED, created_at=ordered[0].created_on,
                         updated_at=current.created_on, expires_at=current.expires_on,
                         current_version=current.version, versions=len(ordered))

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

    # -- errors and display -----------------------------------------------------------------

    def classify(self, exc: BaseException) -> Classified | None:
        return classify(exc, self.vault_url)

    @property
    def vault_url(self) -> str:
        """The vault this backend talks to."""
        return str(getattr(self._client, "vault_url", "") or self._options.vault_url or "")

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {shown_address(self.vault_url)} "
                f"names={self._options.names}>")


#: What the versions' attributes tell.
_DESCRIBED = frozenset({"created_at", "updated_at", "expires_at", "current_version", "versions"})
