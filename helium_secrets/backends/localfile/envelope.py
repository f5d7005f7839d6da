"""The encrypted file format (version 1) of the ``file://`` store, and its keys.

Every ``.hsec`` file is ``b"HSEC" | format (1 byte) | key id (8 bytes) | nonce (12 bytes) |
AES-256-GCM ciphertext and tag``; the plaintext is a JSON document. The key id tells a wrong
key from a damaged file and reveals nothing about the key. Files are replaced atomically.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from helium_secrets._values import SecretValue
from helium_secrets.errors import IntegrityError, UnauthenticatedError

__all__ = ["FORMAT_VERSION", "atomic_write", "decode_key", "fsync_dir", "generate_key", "key_id",
           "open_file", "seal"]

#: The on-disk format this module reads and writes.
FORMAT_VERSION = 1

_MAGIC = b"HSEC"
_KEY_ID_LEN = 8
_NONCE_LEN = 12
_TAG_LEN = 16
_HEADER_LEN = len(_MAGIC) + 1 + _KEY_ID_LEN + _NONCE_LEN


def generate_key() -> str:
    """Return a new random key, URL-safe base64 encoded, for ``HELIUM_SECRETS_KEY``."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def decode_key(text: str, source: str) -> bytes:
    """Decode a base64 key (URL-safe or standard alphabet, padding optional)."""
    cleaned = "".join(text.split()).replace("+", "-").replace("/", "_").rstrip("=")
    try:
        key = base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        # Never chain: the decoder's message may quote the key text.
        raise UnauthenticatedError(f"the key in {source} is not valid base64") from None
    if len(key) != 32:
        raise UnauthenticatedError(
            f"the key in {source} is {len(key)} bytes; AES-256 needs 32 (see generate_key())"
        )
    return key


def key_id(key: bytes) -> bytes:
    # Lets a wrong key be told apart from a damaged file; reveals nothing about the key.
    return hmac.new(key, b"helium-secrets key id v1", hashlib.sha256).digest()[:_KEY_ID_LEN]


def fsync_dir(path: Path) -> None:
    """Make a rename or unlink in ``path`` durable (a no-op where directories can't be opened)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)



def seal(key: bytes, doc: Mapping[str, Any]) -> bytes:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = os.urandom(_NONCE_LEN)
    header = _MAGIC + bytes([FORMAT_VERSION]) + key_id(key) + nonce
    # ASCII escapes: a str with a lone surrogate still round-trips, and encoding can't fail
    # with an error that carries the plaintext.
    plaintext = json.dumps(doc, separators=(",", ":"), ensure_ascii=True,
                           default=_reveal).encode("ascii")
    return header + AESGCM(key).encrypt(nonce, plaintext, header)


def _reveal(value: object) -> str:
    if isinstance(value, SecretValue):
        return value.reveal()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _sealed(obj: dict[str, Any]) -> dict[str, Any]:
    """A version's value stays in a :class:`SecretValue` while the document is in memory: the
    document is in the locals an error reporter captures whenever a call on it fails."""
    if "type" in obj and isinstance(obj.get("value"), str):
        obj["value"] = SecretValue(obj["value"])
    return obj

def open_file(path: Path, key: bytes) -> dict[str, Any]:
    """Read and decrypt one ``.hsec`` file. Raises FileNotFoundError if it is missing."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    data = path.read_bytes()
    if data[: len(_MAGIC)] != _MAGIC:
        raise IntegrityError(f"{path} is not a helium-secrets file (bad magic)")
    if len(data) < _HEADER_LEN + _TAG_LEN:
        raise IntegrityError(f"{path} is damaged (truncated)")
    version = data[len(_MAGIC)]
    if version != FORMAT_VERSION:
        raise IntegrityError(
            f"{path} uses on-disk format {version}; this helium-secrets reads format "
            f"{FORMAT_VERSION}"
        )
    stored_id = data[len(_MAGIC) + 1 : len(_MAGIC) + 1 + _KEY_ID_LEN]
    if not hmac.compare_digest(stored_id, key_id(key)):
        raise IntegrityError(f"{path} was encrypted with a different key (wrong key?)")
    header, nonce = data[:_HEADER_LEN], data[_HEADER_LEN - _NONCE_LEN : _HEADER_LEN]
    try:
        # No local holds the plaintext: it is parsed as it is decrypted, values sealed.
        doc = json.loads(AESGCM(key).decrypt(nonce, data[_HEADER_LEN:], header).decode("utf-8"),
                         object_hook=_sealed)
    except InvalidTag:
        raise IntegrityError(f"{path} is damaged (authentication failed)") from None
    except ValueError:  # never chain: JSON and UTF-8 errors carry the plaintext
        raise IntegrityError(f"{path} is damaged (bad document)") from None
    if not isinstance(doc, dict):
        raise IntegrityError(f"{path} is damaged (bad document)")
    return doc

def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably (temp file, fsync, rename, fsync
    of the directory): a reader sees the old file or the new one, never a part."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)

