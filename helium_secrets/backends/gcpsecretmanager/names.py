"""GCP's names: the mapping of portable names to secret ids, and the rules for secret ids,
version ids, aliases and annotation keys."""

from __future__ import annotations

import functools
import re

from helium_secrets.backends._base import NameRules

__all__ = [
    "ANNOTATION_KEY",
    "MAPPED_NAME_RULES",
    "MAX_SECRET_ID",
    "RAW_NAME_RULES",
    "VERSION_ID",
    "decode_name",
    "encode_name",
    "valid_alias",
]

MAX_SECRET_ID = 255
_SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
_ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,62}")
ANNOTATION_KEY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,61}[A-Za-z0-9])?")
VERSION_ID = re.compile(r"[1-9][0-9]{0,18}")

_ESCAPES = {"/": "S", ".": "D", "+": "P", "=": "E", "@": "A", "_": "_"}
_UNESCAPES = {code: char for char, code in _ESCAPES.items()}


@functools.lru_cache(maxsize=4096)  # every read maps its name; names repeat
def encode_name(name: str) -> str:
    """Map a portable name to a GCP secret id (see the package docs for the escape)."""
    out: list[str] = []
    for index, char in enumerate(name):
        if char == "_":
            following = name[index + 1 : index + 2]
            # Double the underscore only where the next output character would make it an
            # escape: keeps snake_case ids unchanged.
            escaped_next = following in _ESCAPES or following in _UNESCAPES
            out.append("__" if escaped_next else "_")
        elif char in _ESCAPES:
            out.append("_" + _ESCAPES[char])
        else:
            out.append(char)
    return "".join(out)


def decode_name(secret_id: str) -> str | None:
    """Map a GCP secret id back to its portable name, or ``None`` when no name maps to it."""
    out: list[str] = []
    index = 0
    while index < len(secret_id):
        pair = secret_id[index : index + 2]
        if len(pair) == 2 and pair[0] == "_" and pair[1] in _UNESCAPES:
            out.append(_UNESCAPES[pair[1]])
            index += 2
        else:
            out.append(secret_id[index])
            index += 1
    name = "".join(out)
    segments = name.split("/")
    if any(s in ("", ".", "..") for s in segments) or encode_name(name) != secret_id:
        return None
    return name


def _mapped_length_problem(name: str) -> str | None:
    length = len(encode_name(name))
    if length > MAX_SECRET_ID:
        return f"maps to a {length}-character secret id; GCP allows {MAX_SECRET_ID}"
    return None


def _raw_name_problem(name: str) -> str | None:
    if not _SECRET_ID.fullmatch(name):
        return "with raw_names, a name is a GCP secret id: [A-Za-z0-9_-], 1-255 characters"
    return None


MAPPED_NAME_RULES = NameRules(max_length=MAX_SECRET_ID, check=_mapped_length_problem)
RAW_NAME_RULES = NameRules(
    max_length=MAX_SECRET_ID, segment_pattern=r"[A-Za-z0-9_-]+",
    description="letters, digits, _ and - (raw GCP secret ids)", check=_raw_name_problem,
)


def valid_alias(label: str) -> bool:
    """Whether ``label`` can be a version alias (``latest`` and ``new`` are the service's)."""
    return bool(_ALIAS.fullmatch(label)) and label.lower() not in ("latest", "new")
