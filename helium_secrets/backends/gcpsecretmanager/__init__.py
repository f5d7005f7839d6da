"""``gcpsecretmanager://``: GCP Secret Manager (the backend is being split into modules)."""

from helium_secrets.backends.gcpsecretmanager._writes import (
    MAX_SECRET_ID,
    MAX_VALUE_BYTES,
    GCPSecretManagerBackend,
    GCPSecretManagerOptions,
    crc32c,
    decode_name,
    encode_name,
)

__all__ = [
    "MAX_SECRET_ID",
    "MAX_VALUE_BYTES",
    "GCPSecretManagerBackend",
    "GCPSecretManagerOptions",
    "crc32c",
    "decode_name",
    "encode_name",
]
