"""Key Vault's names: the mapping of portable names to Key Vault names, and its rules."""

from __future__ import annotations

import functools
import re

from helium_secrets.backends._base import NameRules

__all__ = [
    "ESCAPED_RULES",
    "MAX_NAME_LENGTH",
    "STAGED_SUFFIX",
    "VERBATIM_RULES",
    "VERSION_ID",
    "decode_name",
    "encode_name",
    "vault_name_problem",
]

#: Key Vault's limit on a secret name.
MAX_NAME_LENGTH = 127
#: Staged rotation: the pending value waits in the secret ``<Key Vault name>-0staged``, a name
#: no portable name maps to ("-0s" is not an escape), so ``list`` never shows it.
STAGED_SUFFIX = "-0staged"

_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ESCAPED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ._+=@-")
_HEX = frozenset("0123456789abcdef")
_VERBATIM = re.compile(r"[0-9A-Za-z-]{1,127}")
VERSION_ID = re.compile(r"[0-9A-Za-z]{1,64}")


@functools.lru_cache(maxsize=4096)  # every read maps its name; names repeat
def encode_name(name: str) -> str:
    """Map a portable name to its Key Vault name: ``app/db`` -> ``app--db``,
    ``app/DB_x`` -> ``app---44-42-5fx`` (the scheme is in the package docstring).

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


ESCAPED_RULES = NameRules(
    max_length=MAX_NAME_LENGTH,
    description="segments of letters, digits and . _ + = @ - (mapped to Key Vault names)",
    check=_mapped_length_problem,
)
VERBATIM_RULES = NameRules(
    max_length=MAX_NAME_LENGTH,
    segment_pattern=r"[0-9A-Za-z-]+",
    description="letters, digits and '-' (Key Vault names, used verbatim)",
    check=_verbatim_problem,
)


_VAULT_NAME = re.compile(r"[a-z][a-z0-9-]{1,22}[a-z0-9]")


def vault_name_problem(vault: str) -> str | None:
    """What makes ``vault`` an impossible Key Vault name (3-24 letters, digits and hyphens,
    starting with a letter, ending with a letter or digit, no ``--``), or ``None``."""
    if _VAULT_NAME.fullmatch(vault.lower()) and "--" not in vault:
        return None
    guess = re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]", "-", vault.lower())).strip("-")
    hint = f"; did you mean {guess!r}?" if guess != vault and _VAULT_NAME.fullmatch(guess) else ""
    return (f"{vault!r} cannot be a Key Vault name (3-24 letters, digits and hyphens, starting "
            f"with a letter, ending with a letter or digit, no '--'){hint} (a vault at another "
            "host: azurekeyvault://HOST[:PORT])")
