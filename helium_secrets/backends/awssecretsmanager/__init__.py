"""``awssecretsmanager://``: AWS Secrets Manager (the backend is being split into modules)."""

from helium_secrets.backends.awssecretsmanager._writes import (
    BATCH_SIZE,
    CURRENT,
    MAX_VALUE_BYTES,
    NAME_RULES,
    PENDING,
    PREVIOUS,
    AWSSecretsManagerBackend,
    AWSSecretsManagerOptions,
)

__all__ = [
    "BATCH_SIZE",
    "CURRENT",
    "MAX_VALUE_BYTES",
    "NAME_RULES",
    "PENDING",
    "PREVIOUS",
    "AWSSecretsManagerBackend",
    "AWSSecretsManagerOptions",
]
