"""Generators of new secret values for :meth:`SecretStore.rotate`, on the :mod:`secrets` module.

A generator is any callable that returns the new value (``str`` or ``bytes``). The ones here
draw from the operating system's CSPRNG and check their own parameters up front, so a policy
that cannot be met fails before anything is written.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

__all__ = ["PasswordGenerator", "TokenGenerator"]

#: Punctuation that survives shells, URLs, JSON and connection strings without quoting.
SAFE_SYMBOLS = "!#%+-.:=?@^_~"


@dataclass(frozen=True, slots=True)
class PasswordGenerator:
    """Random passwords with chosen character classes.

    :param length: characters in each password.
    :param lowercase: include ``a-z``.
    :param uppercase: include ``A-Z``.
    :param digits: include ``0-9``.
    :param symbols: the punctuation to include (``""`` for none); the default avoids quotes,
        backslashes, ``$``, ``&``, ``;``, ``/`` and spaces.
    :param exclude: characters never to use (``"O0Il1"`` for people who read passwords aloud).
    :param require_each: every included class appears at least once.
    :raises ValueError: the policy leaves no characters, or cannot satisfy ``require_each``.
    """

    length: int = 32
    lowercase: bool = True
    uppercase: bool = True
    digits: bool = True
    symbols: str = SAFE_SYMBOLS
    exclude: str = ""
    require_each: bool = True

    def __post_init__(self) -> None:
        classes = self._classes()
        if not classes:
            raise ValueError("the password policy leaves no characters to choose from")
        if self.length < 1:
            raise ValueError("a password is at least 1 character long")
        if self.require_each and self.length < len(classes):
            raise ValueError(
                f"a {self.length}-character password cannot hold one of each of "
                f"{len(classes)} character classes"
            )

    def _classes(self) -> list[str]:
        wanted = [
            string.ascii_lowercase if self.lowercase else "",
            string.ascii_uppercase if self.uppercase else "",
            string.digits if self.digits else "",
            self.symbols,
        ]
        classes = ["".join(c for c in chars if c not in self.exclude) for chars in wanted]
        return [chars for chars in classes if chars]

    def __call__(self) -> str:
        classes = self._classes()
        alphabet = "".join(classes)
        while True:
            password = "".join(secrets.choice(alphabet) for _ in range(self.length))
            if not self.require_each or all(
                any(c in chars for c in password) for chars in classes
            ):
                return password


@dataclass(frozen=True, slots=True)
class TokenGenerator:
    """Random tokens: URL-safe text by default, hex, or raw bytes.

    :param nbytes: bytes of randomness (32 = 256 bits).
    :param encoding: ``"urlsafe"`` (base64url text), ``"hex"`` or ``"bytes"``.
    """

    nbytes: int = 32
    encoding: str = "urlsafe"

    def __post_init__(self) -> None:
        if self.nbytes < 16:
            raise ValueError("a token needs at least 16 bytes (128 bits) of randomness")
        if self.encoding not in ("urlsafe", "hex", "bytes"):
            raise ValueError("TokenGenerator.encoding is 'urlsafe', 'hex' or 'bytes'")

    def __call__(self) -> str | bytes:
        if self.encoding == "hex":
            return secrets.token_hex(self.nbytes)
        if self.encoding == "bytes":
            return secrets.token_bytes(self.nbytes)
        return secrets.token_urlsafe(self.nbytes)
