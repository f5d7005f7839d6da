"""``azurekeyvault://``: Azure Key Vault secrets, through azure-keyvault-secrets' ``SecretClient``.

URL forms (see docs/backends/azure.md)::

    azurekeyvault://myvault                     -> https://myvault.vault.azure.net
    azurekeyvault://myvault.vault.azure.net     -> that host
    azurekeyvault://127.0.0.1:8443              -> https://127.0.0.1:8443 (an emulator)

What this module owns, and nothing more (the store does validation, retries and caching):

* **Names.** Key Vault names are ``[0-9a-zA-Z-]{1,127}`` and case-insensitive. Portable names
  are mapped with an escape scheme that only produces ``[a-z0-9-]``, so it stays injective
  under case folding: lower-case letters and digits stay as they are, ``/`` becomes ``--``
  and every other character (upper-case letters, ``. _ + = @ -``) becomes ``-`` and its two
  lower-case hex digits (``A`` -> ``-41``, ``-`` -> ``-2d``, ``.`` -> ``-2e``). After a ``-``
  comes either ``-`` or two hex digits, so decoding is unambiguous; :func:`decode_name`
  refuses anything that is not the canonical encoding of a portable name, and ``list`` skips
  such (foreign) names. ``names="verbatim"`` turns the mapping off for vaults whose names are
  already Key Vault names.
* **Values.** Text is stored as it is; bytes are stored base64-encoded with the content type
  ``application/octet-stream;base64`` and decoded on the way back.
* **Soft delete.** ``delete`` waits until the deletion has finished (the SDK's poller) and
  purges when asked. Writing a name that is deleted but recoverable is a conflict, or, with
  ``recover_deleted=True``, recovers the secret and then writes the new version.
* **Attributes.** A disabled version is not readable (Key Vault refuses it); an expired or
  not-yet-valid version (``exp``/``nbf``, which Key Vault treats as informational) is refused
  here too unless ``honour_dates=False``. Both are :class:`~helium_secrets.errors.VersionNotFoundError`.
* **Staged rotation.** Key Vault makes every write current at once, so a pending value waits
  in a hidden secret (``<Key Vault name>-0staged``, which no portable name maps to); promoting
  copies it into the secret as a new version (check-and-set on the current one) and purges the
  hidden secret.
* **Errors.** :meth:`AzureKeyVaultBackend.classify` maps HTTP statuses and Key Vault error
  codes (never the service's free text) to portable codes; 429 carries Retry-After.

azure-core's own retries are switched off (``retry_total=0``): the store is the one retry layer.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import ssl
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, ClassVar, Literal
from urllib.parse import SplitResult

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.keyvault.secrets import KeyVaultSecret, SecretClient, SecretProperties

from helium_secrets._options import Options, build, option, parse, query_of
from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import (
    BackendBase,
    Capabilities,
    Classified,
    NameRules,
    RawSecret,
    extra_operation,
)
from helium_secrets.backends._hints import retry_after_from_headers
from helium_secrets.errors import (
    ConflictError,
    DeadlineExceededError,
    ErrorCode,
    HeliumError,
    IntegrityError,
    InvalidArgumentError,
    InvalidNameError,
    SecretNotFoundError,
    TooLargeError,
    UnsupportedError,
    VersionNotFoundError,
    error_for_code,
)

__all__ = [
    "BINARY_CONTENT_TYPE",
    "MAX_NAME_LENGTH",
    "MAX_VALUE_BYTES",
    "AzureKeyVaultBackend",
    "AzureKeyVaultOptions",
    "decode_name",
    "encode_name",
]

#: Key Vault's limit on a secret value: 25 KiB (of the stored text, so base64 for bytes).
MAX_VALUE_BYTES = 25 * 1024
#: Key Vault's limit on a secret name.
MAX_NAME_LENGTH = 127
#: Key Vault's limit on tags per secret version.
MAX_TAGS = 15
#: The content type that marks a value as base64-encoded bytes.
BINARY_CONTENT_TYPE = "application/octet-stream;base64"
#: The tag that orders versions written within one second (Key Vault's timestamps are seconds).
ORDER_TAG = "helium-written-ns"
#: Staged rotation: the pending value waits in the secret ``<Key Vault name>-0staged``, a name
#: no portable name maps to ("-0s" is not an escape), so ``list`` never shows it.
STAGED_SUFFIX = "-0staged"
#: On a staged value: the version it is meant to replace.
STAGED_FOR_TAG = "helium-staged-for"
#: On a promoted version: the staged version it came from (makes a retried promote a no-op).
PROMOTED_FROM_TAG = "helium-promoted-from"

_INTERNAL_TAGS = frozenset({ORDER_TAG, STAGED_FOR_TAG, PROMOTED_FROM_TAG})
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ESCAPED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ._+=@-")
_HEX = frozenset("0123456789abcdef")
_VERBATIM = re.compile(r"[0-9A-Za-z-]{1,127}")
_VERSION_ID = re.compile(r"[0-9A-Za-z]{1,64}")


# -- the name mapping -----------------------------------------------------------------------


def encode_name(name: str) -> str:
    """Map a portable name to its Key Vault name: ``app/db`` -> ``app--db``,
    ``app/DB_x`` -> ``app---44-42-5fx`` (the scheme is in the module docstring).

    :raises ValueError: the name has a character outside the portable set.
    """
    out: list[str] = []
    for ch in name:
        if ch in _PLAIN:
            out.append(ch)
        elif ch == "/":
            out.append("--")
        elif ch in _ESCAPED:
            out.append(f"-{ord(ch):02x}")
        else:
            raise ValueError(f"character {ch!r} cannot be mapped to a Key Vault name")
    return "".join(out)


def decode_name(kv_name: str) -> str | None:
    """Map a Key Vault name back to the portable name, or ``None`` if no portable name maps to
    it (a secret created by another tool)."""
    text = kv_name.lower()  # Key Vault keeps the case a name was created with
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch != "-":
            if ch not in _PLAIN:
                return None
            out.append(ch)
            i += 1
        elif text[i + 1:i + 2] == "-":
            out.append("/")
            i += 2
        else:
            digits = text[i + 1:i + 3]
            if len(digits) != 2 or not set(digits) <= _HEX:
                return None
            decoded = chr(int(digits, 16))
            if decoded not in _ESCAPED:  # "-61" would be a second spelling of "a"
                return None
            out.append(decoded)
            i += 3
    name = "".join(out)
    if not name or any(not segment for segment in name.split("/")):
        return None
    return name


def _mapped_length_problem(name: str) -> str | None:
    try:
        length = len(encode_name(name))
    except ValueError as exc:
        return str(exc)
    if length > MAX_NAME_LENGTH:
        return (
            f"its Key Vault name is {length} characters long (upper-case letters and "
            f". _ + = @ - take 3 each, / takes 2); Key Vault allows {MAX_NAME_LENGTH}"
        )
    return None


def _verbatim_problem(name: str) -> str | None:
    if not _VERBATIM.fullmatch(name):
        return "with names='verbatim' a name is 1-127 letters, digits and '-', without '/'"
    return None


_ESCAPED_RULES = NameRules(
    max_length=MAX_NAME_LENGTH,
    description="segments of letters, digits and . _ + = @ - (mapped to Key Vault names)",
    check=_mapped_length_problem,
)
_VERBATIM_RULES = NameRules(
    max_length=MAX_NAME_LENGTH,
    segment_pattern=r"[0-9A-Za-z-]+",
    description="letters, digits and '-' (Key Vault names, used verbatim)",
    check=_verbatim_problem,
)


# -- the backend ----------------------------------------------------------------------------


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
        vault_url, credential, client = opts.vault_url, opts.credential, opts.client
        if opts.connection_verify is False:
            raise ValueError("TLS verification cannot be turned off; pass a CA bundle path")
        self._verbatim = opts.names == "verbatim"
        self.capabilities = Capabilities(
            binary=True,
            versions=True,
            labels=False,
            max_value_bytes=MAX_VALUE_BYTES,
            name_rules=_VERBATIM_RULES if self._verbatim else _ESCAPED_RULES,
            version_probe=False,  # Key Vault has no cheaper "current version" call than a get
            batch_get=0,
            idempotent_put=False,
            check_and_set=False,  # expected_version is checked, but not atomically
            # A hidden "<name>-0staged" secret could clash with a verbatim name.
            staging=not self._verbatim,
        )
        self._recover_deleted = opts.recover_deleted
        self._honour_dates = opts.honour_dates
        self._poll_interval = opts.poll_interval
        self._wait_timeout = opts.wait_timeout
        self._owned_credential: Any = None
        if client is not None:
            self._client = client
            self._owns_client = False
            return
        if not vault_url:
            raise ValueError("the Azure Key Vault backend needs vault_url or client")
        if not vault_url.lower().startswith("https://"):
            raise ValueError("the vault URL must be https://")
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = self._owned_credential = DefaultAzureCredential()
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
        self._client = SecretClient(vault_url, credential, **settings)
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
            netloc = f"{host}.vault.azure.net"
        return cls(options=parse(AzureKeyVaultOptions, keywords=keywords, query=query_of(url),
                                 url={"vault_url": f"https://{netloc}"}))

    # -- names and values -----------------------------------------------------------------

    def kv_name(self, name: str) -> str:
        """The Key Vault name a portable name maps to."""
        return name if self._verbatim else encode_name(name)

    def portable_name(self, kv_name: str) -> str | None:
        """The portable name of a Key Vault name, or ``None`` when none maps to it."""
        if self._verbatim:
            return kv_name
        return decode_name(kv_name)

    @staticmethod
    def _decode_value(secret: KeyVaultSecret) -> str | bytes:
        value = secret.value or ""
        if (secret.properties.content_type or "").replace(" ", "").lower() != BINARY_CONTENT_TYPE:
            return value
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            # Never chain: the decoder's message may quote the value.
            raise IntegrityError(
                f"the value is marked {BINARY_CONTENT_TYPE} but is not valid base64"
            ) from None

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

    @staticmethod
    def _metadata(tags: Mapping[str, str] | None) -> Mapping[str, str]:
        return MappingProxyType(
            {k: v for k, v in (tags or {}).items() if k not in _INTERNAL_TAGS}
        )

    # -- the protocol ---------------------------------------------------------------------

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        if label is not None:
            raise UnsupportedError("Azure Key Vault has no labels")
        kv = self.kv_name(name)
        if version is not None and not _VERSION_ID.fullmatch(version):
            raise VersionNotFoundError("not a Key Vault version id", version=version)
        try:
            secret = self._client.get_secret(kv, version)
        except ResourceNotFoundError as exc:
            if version is not None and self._exists(kv):
                raise VersionNotFoundError("no such version", version=version) from exc
            raise
        self._check_dates(secret.properties)
        return RawSecret(
            name=name,
            value=self._decode_value(secret),
            version=secret.properties.version or "",
            created_at=secret.properties.created_on,
            metadata=self._metadata(secret.properties.tags),
        )

    def _exists(self, kv: str) -> bool:
        """Whether the secret exists (used only on error paths)."""
        try:
            self._client.get_secret(kv)
        except ResourceNotFoundError:
            return False
        except HttpResponseError as exc:
            return exc.status_code == 403  # exists, but disabled or not ours to read
        return True

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
        text, content_type = _encode_value(value)
        tags = dict(metadata or {})
        if len(tags) >= MAX_TAGS:
            raise InvalidArgumentError(
                f"Key Vault takes at most {MAX_TAGS} tags per version and one is used for "
                f"ordering versions: pass at most {MAX_TAGS - 1} metadata entries"
            )
        if any(len(k) > 512 or len(v) > 512 for k, v in tags.items()):
            raise InvalidArgumentError("Key Vault tag names and values are at most 512 long")
        reserved = sorted(_INTERNAL_TAGS & tags.keys())
        if reserved:
            raise InvalidArgumentError(f"the tag names {reserved} are reserved by helium-secrets")
        # No conditional write on Key Vault (capabilities.check_and_set is False): the store
        # checks expected_version / create_only with a read first and never passes them here.
        written = self._set(kv, text, content_type, tags, recover=self._recover_deleted)
        return _info(written.properties)

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

    # -- staged rotation: the pending value waits in a hidden secret ------------------------

    def _staging_name(self, name: str) -> str:
        kv = self.kv_name(name)
        hidden = kv + STAGED_SUFFIX
        if len(hidden) > MAX_NAME_LENGTH:
            raise InvalidNameError(
                f"staged rotation needs a Key Vault name of at most "
                f"{MAX_NAME_LENGTH - len(STAGED_SUFFIX)} characters; this one has {len(kv)}"
            )
        return hidden

    def stage(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_current: str | None,
        request_token: str | None = None,
    ) -> VersionInfo:
        hidden = self._staging_name(name)
        text, content_type = _encode_value(value)
        current = self._current(self.kv_name(name))
        if current is None:
            raise SecretNotFoundError("secret not found")
        if expected_current is not None and current != expected_current:
            raise ConflictError("the current version changed before staging")
        # A hidden secret left soft-deleted by an earlier rotation (purge refused) is reused.
        written = self._set(hidden, text, content_type, {STAGED_FOR_TAG: current}, recover=True)
        return _info(written.properties)

    def promote(self, name: str, version: str, *, expected_current: str | None) -> None:
        kv, hidden = self.kv_name(name), self._staging_name(name)
        current = self._client.get_secret(kv).properties
        if (current.tags or {}).get(PROMOTED_FROM_TAG) == version:
            self._drop(hidden)  # a retried promotion whose first attempt got through
            return
        if expected_current is not None and current.version != expected_current:
            raise ConflictError("the current version changed while the new one was staged")
        try:
            staged = self._client.get_secret(hidden, version)
        except ResourceNotFoundError as exc:
            raise VersionNotFoundError("no such staged version", version=version) from exc
        self._set(kv, staged.value or "", staged.properties.content_type,
                  {PROMOTED_FROM_TAG: version}, recover=False)
        self._drop(hidden)

    def discard(self, name: str, version: str) -> None:
        self._drop(self._staging_name(name))

    def _drop(self, hidden: str) -> None:
        """Delete and purge the hidden staging secret; gone already is fine."""
        try:
            deleted = self._wait(self._client.begin_delete_secret(
                hidden, _polling_interval=self._poll_interval), "delete")
        except ResourceNotFoundError:
            return
        if deleted.recovery_id is None:
            return
        try:
            self._client.purge_deleted_secret(hidden)
        except HttpResponseError as exc:
            # Purge protection or no purge permission: it stays soft-deleted, and the next
            # stage() recovers and overwrites it.
            if exc.status_code != 403:
                raise

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
        if purge and deleted.recovery_id is not None:
            self._client.purge_deleted_secret(kv)

    # -- soft-delete calls made by applications (store.extras.purge(...), and
    # store.backend.list_deleted(...), which takes a prefix): they check names and map errors
    # themselves, from when they did not go through the store.

    @contextlib.contextmanager
    def _direct(self, name: str | None) -> Iterator[None]:
        """Refuse a bad name before any call and raise helium errors, chained with ``from``."""
        if name is not None:
            problem = self.capabilities.name_rules.problem(name)
            if problem is not None:
                raise InvalidNameError(f"invalid name: {problem}", backend=self.name, name=name)
        try:
            yield
        except HeliumError as exc:
            exc.backend, exc.name = self.name, exc.name or name
            raise
        except Exception as exc:
            verdict = classify(exc)
            if verdict is None:
                raise
            raise error_for_code(verdict.code)(
                verdict.message or verdict.code.value, backend=self.name, name=name,
                transient=verdict.transient, retry_after=verdict.retry_after,
            ) from exc

    @extra_operation(writes=True)
    def purge(self, name: str) -> None:
        """Purge a secret that is deleted but recoverable (needs the purge permission).

        :raises HeliumError: the name is invalid, or Key Vault refused (not deleted, purge
            protection, ...).
        """
        with self._direct(name):
            self._client.purge_deleted_secret(self.kv_name(name))

    @extra_operation(writes=True)
    def recover(self, name: str) -> None:
        """Recover a deleted secret and wait until it is readable again.

        :raises HeliumError: the name is invalid, or Key Vault refused (not deleted, ...).
        """
        with self._direct(name):
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
        names = []
        with self._direct(None):
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
        items.sort(key=_age)
        return [
            VersionInfo(
                version=props.version or "",
                created_at=props.created_on,
                state="disabled" if props.enabled is False else "enabled",
            )
            for props in items
        ]

    def classify(self, exc: BaseException) -> Classified | None:
        return classify(exc)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()
        if self._owned_credential is not None:
            self._owned_credential.close()


def _encode_value(value: str | bytes) -> tuple[str, str | None]:
    """The text Key Vault stores for ``value`` and its content type (bytes: base64)."""
    if isinstance(value, str):
        return value, None
    text = base64.b64encode(value).decode("ascii")
    if len(text) > MAX_VALUE_BYTES:
        raise TooLargeError(
            f"the value is {len(value)} bytes, {len(text)} once base64-encoded; Key Vault "
            f"takes at most {MAX_VALUE_BYTES}"
        )
    return text, BINARY_CONTENT_TYPE


def _info(props: SecretProperties) -> VersionInfo:
    return VersionInfo(version=props.version or "", created_at=props.created_on)


def _age(props: SecretProperties) -> tuple[float, int, str]:
    """Oldest first: Key Vault's created time is whole seconds, so break ties with our tag."""
    created = props.created_on.timestamp() if props.created_on else 0.0
    try:
        written = int((props.tags or {}).get(ORDER_TAG, "0"))
    except ValueError:
        written = 0
    return created, written, props.version or ""


def _retry_after(exc: HttpResponseError) -> float | None:
    return retry_after_from_headers(getattr(exc.response, "headers", None))


def _is_tls_failure(exc: BaseException) -> bool:
    """Whether a connection error was TLS failing (not transient: retrying will not help)."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        # requests and urllib3 wrap ssl.SSLError in their own classes named SSLError.
        if isinstance(current, ssl.SSLError) or type(current).__name__ == "SSLError":
            return True
        inner = getattr(current, "inner_exception", None)
        todo += [inner if isinstance(inner, BaseException) else None,
                 current.__cause__, current.__context__]
    return False


def classify(exc: BaseException) -> Classified | None:
    """Map an azure-core / Key Vault exception to a portable code.

    Messages are built from the HTTP status and Key Vault's error codes only, never from the
    service's message text.
    """
    if isinstance(exc, HttpResponseError) and exc.status_code is not None:
        status = exc.status_code
        code = exc.error.code if exc.error is not None else None
        inner = None
        if exc.error is not None and isinstance(exc.error.innererror, Mapping):
            inner = exc.error.innererror.get("code")
        said = f"Key Vault answered {status}" + (f" {code}" if code else "") + (
            f" ({inner})" if inner else ""
        )
        if status == 401:
            return Classified(ErrorCode.UNAUTHENTICATED, f"{said}: the token was refused")
        if status == 403:
            if inner in ("SecretDisabled", "SecretExpired", "SecretNotYetValid"):
                return Classified(ErrorCode.VERSION_NOT_FOUND,
                                  f"{said}: the secret version is not readable")
            return Classified(
                ErrorCode.PERMISSION_DENIED,
                f"{said}: the caller lacks the role or access policy for this operation",
            )
        if status == 404:
            return Classified(ErrorCode.NOT_FOUND, f"{said}: secret not found")
        if status == 409:
            return Classified(
                ErrorCode.CONFLICT,
                f"{said}: the name belongs to a deleted but recoverable secret (or one being "
                "deleted): recover it with store.extras.recover(name), purge it with "
                "store.extras.purge(name), or open the store with recover_deleted=True",
            )
        if status == 429:
            return Classified(ErrorCode.THROTTLED, f"{said}: throttled",
                              retry_after=_retry_after(exc))
        if status == 413:
            return Classified(ErrorCode.TOO_LARGE, said)
        if status == 400:
            return Classified(ErrorCode.INVALID_ARGUMENT, said)
        if status in (408, 504):
            return Classified(ErrorCode.DEADLINE_EXCEEDED, said, retry_after=_retry_after(exc))
        if status >= 500:
            return Classified(ErrorCode.UNAVAILABLE, said, retry_after=_retry_after(exc))
        return Classified(ErrorCode.UNKNOWN, said)
    if isinstance(exc, ClientAuthenticationError):
        # Raised by azure-identity when no token could be had (no HTTP status from the vault).
        return Classified(ErrorCode.UNAUTHENTICATED,
                          f"the credential could not get a token ({type(exc).__name__})")
    if isinstance(exc, (ServiceRequestTimeoutError, ServiceResponseTimeoutError)):
        return Classified(ErrorCode.DEADLINE_EXCEEDED, "the request to Key Vault timed out")
    if isinstance(exc, ServiceRequestError):
        if _is_tls_failure(exc):
            return Classified(ErrorCode.UNAVAILABLE,
                              "the TLS handshake with the vault failed (certificate?)",
                              transient=False)
        return Classified(ErrorCode.UNAVAILABLE, "could not connect to Key Vault")
    if isinstance(exc, ServiceResponseError):
        return Classified(ErrorCode.UNAVAILABLE, "the connection dropped before Key Vault answered")
    if isinstance(exc, ValueError) and "challenge" in str(exc):
        return Classified(
            ErrorCode.UNAUTHENTICATED,
            "the vault's authentication challenge does not match the vault URL "
            "(verify_challenge_resource)",
            transient=False,
        )
    return None
