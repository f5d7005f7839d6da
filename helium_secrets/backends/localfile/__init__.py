"""``file://``: the local encrypted store, the default for local development and the CLI.

Layout of a store directory (format version 1; docs/backends/file.md is the full description)::

    <store-dir>/            0700
      store.hsec            key check: an encrypted marker written when the store is created
      .key                  the default key file (0600), only when no other key is configured
      .lock                 the lock file that serialises writers across processes
      secrets/<sha256(name)>.hsec   one encrypted file per secret, all its versions inside

Every ``.hsec`` file is ``b"HSEC" | format (1 byte) | key id (8 bytes) | nonce (12 bytes) |
AES-256-GCM ciphertext and tag``; the plaintext is a JSON document. Writers take a file lock,
read-modify-write one secret file, and replace it atomically (temp file, fsync, rename, fsync of
the directory). Readers take no lock: a rename is atomic, so they see the old or the new file.
"""

from helium_secrets.backends.localfile.backend import (
    DEFAULT_MAX_VALUE_BYTES,
    KEY_ENV_VAR,
    PENDING,
    LocalFileBackend,
    LocalFileOptions,
    default_path,
    default_url,
)
from helium_secrets.backends.localfile.envelope import FORMAT_VERSION, generate_key

__all__ = [
    "DEFAULT_MAX_VALUE_BYTES",
    "FORMAT_VERSION",
    "KEY_ENV_VAR",
    "PENDING",
    "LocalFileBackend",
    "LocalFileOptions",
    "default_path",
    "default_url",
    "generate_key",
]
