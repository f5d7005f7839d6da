"""Key Vault's values and tags: bytes as base64 text, metadata as tags, and the tags that are
ours (the order of versions written within one second)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from types import MappingProxyType

from azure.keyvault.secrets import KeyVaultSecret, SecretProperties

from helium_secrets._values import VersionInfo
from helium_secrets.errors import IntegrityError, TooLargeError

__all__ = [
    "BINARY_CONTENT_TYPE",
    "INTERNAL_TAGS",
    "MAX_TAGS",
    "MAX_VALUE_BYTES",
    "ORDER_TAG",
    "PROMOTED_FROM_TAG",
    "age",
    "decode_value",
    "encode_value",
    "metadata_of",
    "version_info",
]

#: Key Vault's limit on a secret value: 25 KiB (of the stored text, so base64 for bytes).
MAX_VALUE_BYTES = 25 * 1024
#: Key Vault's limit on tags per secret version.
MAX_TAGS = 15
#: The content type that marks a value as base64-encoded bytes.
BINARY_CONTENT_TYPE = "application/octet-stream;base64"
#: The tag that orders versions written within one second (Key Vault's timestamps are seconds).
ORDER_TAG = "helium-written-ns"
#: On versions promoted by releases before the store staged in companions: the staged version
#: they came from (still kept out of metadata).
PROMOTED_FROM_TAG = "helium-promoted-from"

INTERNAL_TAGS = frozenset({ORDER_TAG, PROMOTED_FROM_TAG})


def encode_value(value: str | bytes) -> tuple[str, str | None]:
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


def decode_value(secret: KeyVaultSecret) -> str | bytes:
    """The value of ``secret``: its text, or the bytes it holds base64-encoded."""
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


def metadata_of(tags: Mapping[str, str] | None) -> Mapping[str, str]:
    """The metadata a version's tags hold: all but the internal ones."""
    return MappingProxyType(
        {k: v for k, v in (tags or {}).items() if k not in INTERNAL_TAGS}
    )


def version_info(props: SecretProperties) -> VersionInfo:
    """The version ``props`` describe, as a write returns it."""
    return VersionInfo(version=props.version or "", created_at=props.created_on)


def age(props: SecretProperties) -> tuple[float, int, str]:
    """Oldest first: Key Vault's created time is whole seconds, so break ties with our tag."""
    created = props.created_on.timestamp() if props.created_on else 0.0
    try:
        written = int((props.tags or {}).get(ORDER_TAG, "0"))
    except ValueError:
        written = 0
    return created, written, props.version or ""
