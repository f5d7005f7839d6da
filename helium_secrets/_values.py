"""The value model: :class:`SecretValue`, :class:`Secret` and :class:`VersionInfo`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn

from helium_secrets.errors import InvalidArgumentError

if TYPE_CHECKING:
    from datetime import datetime

__all__ = ["FrozenMap", "JSONText", "Lease", "Secret", "SecretValue", "VersionInfo", "json_field",
           "json_text"]

_REDACTED = "SecretValue('**********')"


class FrozenMap(Mapping[str, str]):
    """A read-only mapping (a secret's metadata) that copies, deep-copies and pickles as
    plainly as a dict, unlike ``types.MappingProxyType``."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, str] = MappingProxyType({})) -> None:
        self._data = dict(data)

    def __getitem__(self, key: str) -> str:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def __copy__(self) -> FrozenMap:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> FrozenMap:
        return self

    def __reduce__(self) -> tuple[type[FrozenMap], tuple[dict[str, str]]]:
        return (FrozenMap, (self._data,))


_EMPTY: Mapping[str, str] = FrozenMap()


class SecretValue:
    """A secret's value, text or bytes, that never shows itself by accident.

    ``repr``, ``str``, ``format`` and logging print a fixed mask; pickling and copying to
    JSON are refused. Reading the value is an explicit call to :meth:`reveal` (text) or
    :meth:`reveal_bytes`. Equality with another :class:`SecretValue` is constant-time.
    """

    __slots__ = ("_value",)

    _value: str | bytes

    def __init__(self, value: str | bytes) -> None:
        if not isinstance(value, (str, bytes)):
            raise TypeError(f"a secret value is str or bytes, not {type(value).__name__}")
        object.__setattr__(self, "_value", value)

    @property
    def is_binary(self) -> bool:
        """``True`` when the value was stored as bytes rather than text."""
        return isinstance(self._value, bytes)

    def reveal(self) -> str:
        """Return the value as text (bytes are decoded as UTF-8).

        :raises ValueError: the value is binary and not valid UTF-8; use :meth:`reveal_bytes`.
        """
        value = self._value
        if isinstance(value, str):
            return value
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            # Never chain the decode error: its message quotes the offending bytes.
            raise ValueError(
                "the secret value is binary and not UTF-8 text; use reveal_bytes()"
            ) from None

    def reveal_bytes(self) -> bytes:
        """Return the value as bytes (text is encoded as UTF-8)."""
        value = self._value
        return value.encode("utf-8") if isinstance(value, str) else value

    def reveal_json(self) -> Any:
        """Parse the value as JSON and return the result.

        :raises ValueError: the value is not valid JSON (the message never quotes it).
        """
        try:
            import json  # here, not at import: most values are never parsed

            return json.loads(self._value)
        except (ValueError, UnicodeDecodeError):
            raise ValueError("the secret value is not valid JSON") from None

    def __len__(self) -> int:
        return len(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SecretValue):
            return NotImplemented
        import hmac  # here, not at import: it loads OpenSSL

        return hmac.compare_digest(self.reveal_bytes(), other.reveal_bytes())

    def __hash__(self) -> int:
        # Hashing the value would leak information about it through dict/set timing.
        return id(self)

    def __repr__(self) -> str:
        return _REDACTED

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return _REDACTED

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("SecretValue is immutable")

    def __reduce__(self) -> NoReturn:
        raise TypeError("a SecretValue cannot be pickled; reveal() it explicitly if you must")

    def __copy__(self) -> SecretValue:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> SecretValue:
        return self


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One version of a secret, as listed by :meth:`SecretStore.versions`.

    :param version: the backend's opaque version id (Vault ``"3"``, an AWS UUID, ...).
    :param labels: stages or aliases attached to this version (``AWSCURRENT``, ...).
    :param created_at: when the version was written, where the backend knows.
    :param state: ``"enabled"``, ``"disabled"``, ``"destroyed"`` or ``"deleted"``.
    """

    version: str
    labels: frozenset[str] = frozenset()
    created_at: datetime | None = None
    state: str = "enabled"

    @property
    def enabled(self) -> bool:
        """Whether this version can be read."""
        return self.state == "enabled"


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class Secret:
    """A secret read from or written to a store: name, value, version and what goes with it."""

    name: str
    value: SecretValue
    version: str
    labels: frozenset[str] = frozenset()
    created_at: datetime | None = None
    metadata: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    def __post_init__(self) -> None:
        if not isinstance(self.metadata, FrozenMap):
            object.__setattr__(self, "metadata", FrozenMap(self.metadata) if self.metadata
                               else _EMPTY)

    def __copy__(self) -> Secret:
        return self  # immutable, like its value

    def __deepcopy__(self, memo: dict[int, object]) -> Secret:
        return self

    def __repr__(self) -> str:
        return (
            f"Secret(name={self.name!r}, version={self.version!r}, "
            f"labels={sorted(self.labels)!r}, value={_REDACTED})"
        )

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return (
            self.name == other.name
            and self.version == other.version
            and self.value == other.value
        )

    def __hash__(self) -> int:
        return hash((self.name, self.version))

    def json(self) -> Any:
        """The value parsed as JSON (see :meth:`SecretValue.reveal_json`)."""
        return self.value.reveal_json()


@dataclass(frozen=True, slots=True, repr=False, eq=False)
class Lease:
    """Credentials a service issued under a lease (dynamic secrets), as one grant of them.

    :param path: where they were issued (Vault's ``database/creds/ROLE``).
    :param lease_id: the service's id of the lease (not a credential).
    :param credentials: the issued fields (``username``, ``password``, ...), each redacted.
    :param duration: seconds the last issue or renewal granted.
    :param renewable: whether the service can still extend it.
    :param issued_at: when these credentials were issued (UTC).
    :param expires_at: when they stop working unless renewed (UTC; ``None``: never).
    """

    path: str
    lease_id: str
    credentials: Mapping[str, SecretValue]
    duration: float
    renewable: bool
    issued_at: datetime
    expires_at: datetime | None

    def __getitem__(self, field: str) -> SecretValue:
        return self.credentials[field]

    def __repr__(self) -> str:
        expires = self.expires_at.isoformat() if self.expires_at is not None else None
        return (f"Lease(path={self.path!r}, lease_id={self.lease_id!r}, "
                f"fields={sorted(self.credentials)!r}, expires_at={expires!r})")

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Lease):
            return NotImplemented
        return self.lease_id == other.lease_id and self.expires_at == other.expires_at

    def __hash__(self) -> int:
        return hash((self.lease_id, self.expires_at))


def json_field(secret: Secret, field: str | Sequence[str | int] | None, *, backend: str) -> Any:
    """The value of ``secret`` parsed as JSON, or the part of it at ``field``.

    :param field: a dotted path (``"db.password"``, list indexes as digits) or a sequence of
        keys and indexes.
    :param backend: the backend's name, for the error.
    :raises InvalidArgumentError: the value is not JSON, or the field is not in it (the message
        names the field, never the value).
    """
    try:
        node = secret.value.reveal_json()
    except ValueError:
        raise InvalidArgumentError("the secret value is not valid JSON", backend=backend,
                                   name=secret.name) from None
    if field is None:
        return node
    found, node = _select(node, field.split(".") if isinstance(field, str) else field)
    if not found:
        # Raised here, where no local holds the document (error reporters capture locals).
        raise InvalidArgumentError(f"field {field!r} is not in the secret's JSON document",
                                   backend=backend, name=secret.name)
    return node


def _select(node: Any, keys: Sequence[str | int]) -> tuple[bool, Any]:
    """``(True, the part of node at keys)``, or ``(False, None)`` when it has no such part."""
    for key in keys:
        try:
            if isinstance(node, list):
                node = node[int(key)]
            elif isinstance(node, dict):
                node = node[str(key)]
            else:
                return False, None
        except (KeyError, IndexError, ValueError):
            return False, None
    return True, node


class JSONText(str):
    """Text that :meth:`~helium_secrets.SecretStore.put_json` wrote: a JSON document.

    Every backend stores it as the text it is; a backend whose service keeps structured values
    may store the document itself instead (Vault writes a JSON object as the KV map, so that
    ``bao kv get`` shows its keys), provided it reads back as this same text.
    """

    __slots__ = ()


def json_text(document: object, *, name: str, backend: str) -> JSONText:
    """``document`` as the one JSON text every backend reads back alike (keys sorted, compact,
    as Vault presents a map).

    :raises InvalidArgumentError: ``document`` is not JSON (the message names the type, never
        a value).
    """
    import json

    try:
        text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                          allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidArgumentError(
            f"put_json takes JSON (dicts, lists, str, int, float, bool, None), not a document "
            f"with {_not_json(exc)}", backend=backend, name=name) from None
    return JSONText(text)


def _not_json(exc: BaseException) -> str:
    # json checks for cycles before it recurses, so a RecursionError is nesting alone; its
    # ValueErrors are a cycle ("Circular reference detected") or a float out of range.
    if isinstance(exc, RecursionError):
        return "nesting deeper than Python's recursion limit"
    if isinstance(exc, ValueError):
        return "a cycle" if "Circular reference" in str(exc) else "NaN or infinity"
    words = str(exc).split()  # "Object of type X is not JSON serializable": only the type
    return f"a {words[3]}" if len(words) > 3 and words[:3] == ["Object", "of", "type"] \
        else "a value JSON cannot hold (keys must be str)"
