"""``azurekeyvault://``: Azure Key Vault secrets (the backend is being split into modules)."""

from helium_secrets.backends.azurekeyvault._backend import (
    BINARY_CONTENT_TYPE,
    MAX_NAME_LENGTH,
    MAX_TAGS,
    MAX_VALUE_BYTES,
    ORDER_TAG,
    PROMOTED_FROM_TAG,
    STAGED_FOR_TAG,
    STAGED_SUFFIX,
    AzureKeyVaultBackend,
    AzureKeyVaultOptions,
    classify,
    decode_name,
    encode_name,
)

__all__ = [
    "BINARY_CONTENT_TYPE",
    "MAX_NAME_LENGTH",
    "MAX_TAGS",
    "MAX_VALUE_BYTES",
    "ORDER_TAG",
    "PROMOTED_FROM_TAG",
    "STAGED_FOR_TAG",
    "STAGED_SUFFIX",
    "AzureKeyVaultBackend",
    "AzureKeyVaultOptions",
    "classify",
    "decode_name",
    "encode_name",
]
