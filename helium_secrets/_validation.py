"""Argument rules, checked before any backend call: names, values, metadata, labels, options.

Each problem is an :class:`~helium_secrets.errors.InvalidArgumentError` (a ``ValueError``)
that names the argument, the backend and the secret, and never quotes a value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from helium_secrets._values import SecretValue
from helium_secrets.backends._base import Capabilities
from helium_secrets.errors import (
    InvalidArgumentError,
    InvalidNameError,
    ReadOnlyError,
    TooLargeError,
    UnsupportedError,
)

__all__ = ["Validator", "portable_name_problem"]

MAX_NAME = 1024
#: Names a store remembers as checked (the rules of a store never change): past this many it
#: starts afresh, so a caller cycling through endless names costs a check each, as before.
_CHECKED_NAMES = 4096


def portable_name_problem(name: object) -> str | None:
    """What breaks the portable name rules in ``name``, or ``None``."""
    if not isinstance(name, str):
        return f"a name is a string, not {type(name).__name__}"
    if not name:
        return "the name is empty"
    if len(name) > MAX_NAME:
        return f"longer than {MAX_NAME} characters"
    if name.startswith("/") or name.endswith("/"):
        return "a name does not start or end with '/'"
    for segment in name.split("/"):
        if not segment:
            return "empty segment ('//')"
        if segment in (".", ".."):
            return f"segment {segment!r} is not allowed"
    if any(ord(c) < 32 or ord(c) == 127 or c.isspace() for c in name):
        return "names contain no whitespace or control characters"
    if not name.isascii() and _has_surrogate(name):
        return "names contain no lone surrogates"
    return None


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _utf8_len(text: str, limit: int) -> int:
    # Short strings cannot exceed the limit even at 4 bytes a character: skip the encode.
    return len(text) if len(text) * 4 <= limit else len(text.encode("utf-8"))


class Validator:
    """The argument rules of one store, from its backend's capabilities."""

    def __init__(self, backend: str, caps: Capabilities) -> None:
        self.backend = backend
        self.caps = caps
        self._checked: set[str] = set()

    def invalid(self, message: str, name: str | None) -> InvalidArgumentError:
        """An :class:`InvalidArgumentError` naming this backend and ``name``."""
        return InvalidArgumentError(message, backend=self.backend, name=name)

    # -- names -----------------------------------------------------------------------------

    def name(self, name: object) -> str:
        """Check ``name`` against the portable rules and the backend's; return it."""
        # Every cache miss checks its name: a name that passed once passes again (a plain
        # str only: a subclass could hash and compare as it likes).
        if type(name) is str and name in self._checked:
            return name
        problem = portable_name_problem(name)
        if problem is None:
            assert isinstance(name, str)
            problem = self.caps.name_rules.problem(name)
        if problem is not None:
            shown = name if isinstance(name, str) and not _has_surrogate(name) else None
            raise InvalidNameError(f"invalid secret name: {problem}", backend=self.backend,
                                   name=shown)
        if type(name) is str:
            if len(self._checked) >= _CHECKED_NAMES:
                self._checked = set()
            self._checked.add(name)
        return name  # type: ignore[return-value]

    def names(self, names: object) -> list[str]:
        """Check the names of a batch (any iterable of names, but not one string)."""
        if isinstance(names, (str, bytes)) or not isinstance(names, Iterable):
            raise self.invalid(
                f"names must be an iterable of names, not {type(names).__name__}", None)
        return list(dict.fromkeys([self.name(name) for name in names]))

    def prefix(self, prefix: object) -> str:
        """Check a ``list`` prefix."""
        if not isinstance(prefix, str) or any(ord(c) < 32 for c in prefix):
            raise self.invalid("the prefix must be a string without control characters", None)
        return prefix

    def writable(self, name: str | None) -> None:
        """Refuse writes on a read-only backend."""
        if self.caps.read_only:
            raise ReadOnlyError(f"the {self.backend} backend is read-only",
                                backend=self.backend, name=name)

    # -- reads -----------------------------------------------------------------------------

    def selector(self, name: str, version: object, label: object) -> None:
        """Check ``version=`` and ``label=`` of a read (an empty one is simply not found)."""
        if version is None and label is None:  # the current version: nothing to check
            return
        self.optional_text(name, "version", version, empty_ok=True)
        self.optional_text(name, "label", label, empty_ok=True)
        if version is not None and label is not None:
            raise self.invalid("give a version or a label, not both", name)
        if label is not None and not self.caps.labels:
            raise self.no_labels(name)

    def label_move(self, name: str, label: object, version: object) -> None:
        """Check the arguments of ``set_label``."""
        if label is None:
            raise self.invalid("label must be a string, not None", name)
        self.optional_text(name, "label", label)
        self.optional_text(name, "version", version)
        if not self.caps.labels:
            raise self.no_labels(name)

    def optional_text(self, name: str | None, argument: str, value: object, *,
                      empty_ok: bool = False) -> None:
        """``value`` is ``None`` or a string (an opaque version id, a label, ...)."""
        if value is None:
            return
        if not isinstance(value, str):
            raise self.invalid(
                f"{argument} must be a string, not {type(value).__name__}", name)
        if not value and not empty_ok:
            raise self.invalid(f"{argument} must not be empty", name)

    def ttl(self, name: str, ttl: object) -> None:
        """``ttl=`` is ``None`` or a non-negative number of seconds."""
        if ttl is None:
            return
        if isinstance(ttl, bool) or not isinstance(ttl, (int, float)):
            raise self.invalid(f"ttl must be a number of seconds, not {type(ttl).__name__}",
                                name)
        if ttl < 0 or math.isnan(ttl):
            raise self.invalid("ttl must not be negative", name)

    def flag(self, name: str | None, argument: str, value: object) -> bool:
        """A boolean keyword: ``True`` or ``False`` only (``"no"`` is not false)."""
        if not isinstance(value, bool):
            raise self.invalid(f"{argument} must be True or False, not {type(value).__name__}",
                                name)
        return value

    def staging(self, name: str) -> None:
        """Refuse staged rotation on a backend with neither native staging nor a companion."""
        if not (self.caps.staging or self.caps.staging_companion):
            raise UnsupportedError(f"the {self.backend} backend has no staged rotation",
                                   backend=self.backend, name=name)

    def no_labels(self, name: str) -> UnsupportedError:
        """The error for labels on a backend without them."""
        return UnsupportedError(f"the {self.backend} backend has no labels",
                                backend=self.backend, name=name)

    # -- writes ----------------------------------------------------------------------------

    def value(self, name: str, value: object) -> str | bytes:
        """Check a value to write; return it as ``str`` or ``bytes``."""
        if isinstance(value, SecretValue):
            value = value.reveal_bytes() if value.is_binary else value.reveal()
        if not isinstance(value, (str, bytes)):
            raise self.invalid(
                f"a secret value is str or bytes, not {type(value).__name__}", name)
        if isinstance(value, bytes) and not self.caps.binary:
            raise self.invalid(f"the {self.backend} backend stores text only; pass a str", name)
        if isinstance(value, str) and not value.isascii() and _has_surrogate(value):
            raise self.invalid(
                "the value contains a lone surrogate (U+D800-U+DFFF), which is not text any "
                "backend can store and give back; pass valid text or bytes", name)
        limit = self.caps.max_value_bytes
        if limit is not None:
            size = len(value) if isinstance(value, bytes) else _utf8_len(value, limit)
            if size > limit:
                raise TooLargeError(
                    f"the value is {size} bytes; the {self.backend} backend takes at most {limit}",
                    backend=self.backend, name=name,
                )
        return value

    def metadata(self, name: str, metadata: object) -> Mapping[str, str] | None:
        """Check metadata against its type and the backend's limits; return a frozen copy."""
        if metadata is None:
            return None
        if not isinstance(metadata, Mapping):
            raise self.invalid(
                f"metadata must be a mapping of str to str, not {type(metadata).__name__}", name)
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise self.invalid("metadata keys and values must be strings", name)
        caps = self.caps
        if caps.max_metadata_keys is not None and len(metadata) > caps.max_metadata_keys:
            raise self.invalid(
                f"metadata has {len(metadata)} keys; the {self.backend} backend takes at most "
                f"{caps.max_metadata_keys}", name)
        for key, item in metadata.items():
            if not key:
                raise self.invalid("a metadata key must not be empty", name)
            if _has_surrogate(key) or _has_surrogate(item):
                raise self.invalid(f"metadata {key!r} contains a lone surrogate", name)
            self._within(name, key, "key", len(key.encode()), caps.max_metadata_key_bytes)
            self._within(name, key, "value", len(item.encode()), caps.max_metadata_value_bytes)
        return MappingProxyType(dict(metadata))

    def _within(self, name: str, key: str, what: str, size: int, limit: int | None) -> None:
        if limit is not None and size > limit:
            raise self.invalid(
                f"metadata {key!r}: the {what} is {size} bytes; the {self.backend} backend takes "
                f"at most {limit}", name)

    def labels(self, name: str, labels: object) -> tuple[str, ...]:
        """Check the labels to put on a new version; return them as a tuple."""
        if isinstance(labels, (str, bytes)) or not isinstance(labels, (Sequence, frozenset, set)):
            raise self.invalid(
                f"labels must be a sequence of label strings, not {type(labels).__name__}", name)
        out = tuple(labels)
        for label in out:
            self.optional_text(name, "each of labels", label)
        if out and not self.caps.labels:
            raise self.no_labels(name)
        return out
