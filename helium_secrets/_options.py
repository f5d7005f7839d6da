"""The options schema: each backend declares its options once, and one parser fills them in.

A backend's options are a frozen dataclass deriving from :class:`Options`, whose fields are made
with :func:`option`. A field's annotation is its type, its default is the default, and
:func:`option` says where else the value may come from::

    @dataclass(frozen=True, kw_only=True)
    class MemoryOptions(Options):
        scheme: ClassVar[str] = "mem"

        max_value_bytes: int = option(65536, query=True, ge=1)
        clock: Callable[[], datetime] | None = None

:func:`parse` builds the object from keywords, a URL and the environment, in this order of
precedence: **keyword > URL > environment > default**. Text (URL query and environment values)
is converted by the field's type with one grammar for every backend: booleans are ``true``,
``false``, ``1`` or ``0`` (any case), numbers are decimal, a ``Literal`` type lists the allowed
words. Every value, however given, is checked when the object is made: its type (a
:class:`TypeError` naming the option), its range and choices (a :class:`ValueError` naming the
option and the value, except for options marked ``secret``, whose value is never shown).
"""

from __future__ import annotations

import dataclasses
import math
import os
import types
import typing
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin
from urllib.parse import SplitResult, parse_qsl

__all__ = [
    "Options",
    "Spec",
    "Timeout",
    "build",
    "option",
    "parse",
    "parse_bool",
    "parse_timeout",
    "query_flag",
    "query_of",
    "specs",
    "timeout_pair",
    "timeout_problem",
]

OptionsT = TypeVar("OptionsT", bound="Options")

_META = "helium_secrets.option"
_TRUE = frozenset({"true", "1"})
_SPECS: dict[type[Options], tuple[Spec, ...]] = {}
_FALSE = frozenset({"false", "0"})


@dataclasses.dataclass(frozen=True)
class _Source:
    """Where :func:`option` says an option may come from, and what it accepts."""

    query: bool = False
    env: tuple[str, ...] = ()
    url: str | None = None
    secret: bool = False
    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    parse: Callable[[str], Any] | None = None
    check: Callable[[Any], str | None] | None = None


def option(
    default: Any = None,
    *,
    query: bool = False,
    env: str | Sequence[str] = (),
    url: str | None = None,
    secret: bool = False,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    parse: Callable[[str], Any] | None = None,
    check: Callable[[Any], str | None] | None = None,
) -> Any:
    """Declare an option (a dataclass field of an :class:`Options` class).

    Every option is a keyword. These say what else it accepts:

    :param default: the value when no source gives one.
    :param query: the URL query may set it, as ``?name=value``.
    :param env: environment variables that may set it; the first one set (and not blank) wins.
    :param url: the part of the URL, besides the query, that the backend's ``from_url`` derives
        it from (``"host"``, ``"path"``): documentation, checked against the docs' tables.
    :param secret: a credential: its value is never shown (in errors or in ``repr``).
    :param ge: the smallest value allowed (numbers).
    :param gt: the value must be more than this (numbers).
    :param le: the largest value allowed (numbers).
    :param parse: turns text (URL or environment) into the value, for types with no text form
        of their own; raise :class:`ValueError` for bad text.
    :param check: returns what is wrong with a value (a phrase), or ``None``.
    """
    source = _Source(
        query=query, env=(env,) if isinstance(env, str) else tuple(env), url=url, secret=secret,
        ge=ge, gt=gt, le=le, parse=parse, check=check,
    )
    return dataclasses.field(default=default, repr=not secret, metadata={_META: source})


@dataclasses.dataclass(frozen=True)
class Spec:
    """One option of a schema, as :func:`specs` describes it (for the parser and the docs).

    :param name: the option's name: the keyword, and the URL query name where it has one.
    :param type: the annotation as written in the source (``"int"``, ``"str | None"``).
    :param default: the default value.
    :param query: whether ``?name=`` may set it.
    :param env: the environment variables that may set it.
    :param url: the part of the URL (besides the query) it may come from, or ``None``.
    :param secret: whether its value is hidden.
    """

    name: str
    type: str
    default: Any
    query: bool
    env: tuple[str, ...]
    url: str | None
    secret: bool
    hint: Any = dataclasses.field(repr=False, compare=False)
    source: _Source = dataclasses.field(repr=False, compare=False)

    def shown(self, value: object) -> str:
        """The value as error messages show it: hidden for a secret."""
        return "(hidden)" if self.secret else repr(value)

    def from_text(self, text: str, where: str) -> Any:
        """The value that ``text`` (from ``where``: a URL, a variable) stands for."""
        try:
            if self.source.parse is not None:
                return self.source.parse(text)
            return _from_text(text, self.hint)
        except ValueError as exc:
            bounds = _bounds(self.source)
            what = "" if self.secret else f": {exc}" + (f" {bounds}" if bounds else "")
            raise ValueError(f"invalid {where}{what}") from None


class Options:
    """The base of every backend's options class (a frozen, keyword-only dataclass).

    Making an instance checks every value. :attr:`scheme` names the backend in messages, and
    :attr:`url_extras` lists the URL query names the backend's ``from_url`` reads itself (URL
    syntax such as Vault's ``tls=``, not options), so that they are listed as known.
    """

    scheme: ClassVar[str] = "backend"
    url_extras: ClassVar[tuple[str, ...]] = ()
    #: Old option names -> their current names: still accepted (as a keyword or in the URL
    #: query), with a :class:`DeprecationWarning` naming the new one.
    renamed: ClassVar[Mapping[str, str]] = {}

    def __post_init__(self) -> None:
        for spec in specs(type(self)):
            value = getattr(self, spec.name)
            checked = _checked(spec, value, f"{self.scheme}:// option {spec.name}")
            if checked is not value:
                object.__setattr__(self, spec.name, checked)

    def source(self, name: str) -> str:
        """Where the option ``name`` came from: ``"keyword"``, ``"url"``, ``"env:VAR"`` or
        ``"default"`` (for an object made directly rather than by :func:`parse`, a value other
        than the default counts as a keyword).
        """
        sources: Mapping[str, str] | None = getattr(self, "_sources", None)
        if sources is not None:
            return sources[name]
        spec = next((s for s in specs(type(self)) if s.name == name), None)
        if spec is None:
            raise KeyError(name)
        return "default" if getattr(self, name) == spec.default else "keyword"


def specs(schema: type[Options]) -> tuple[Spec, ...]:
    """The options of ``schema``, in declaration order."""
    known = _SPECS.get(schema)
    if known is None:
        known = _SPECS[schema] = _describe(schema)  # a race only computes it twice
    return known


def _describe(schema: type[Options]) -> tuple[Spec, ...]:
    hints = typing.get_type_hints(schema)
    found = []
    for f in dataclasses.fields(schema):  # type: ignore[arg-type]
        source = f.metadata.get(_META, _Source())
        spec = Spec(
            name=f.name, type=str(f.type), default=f.default, query=source.query,
            env=source.env, url=source.url, secret=source.secret, hint=hints[f.name],
            source=source,
        )
        if (spec.query or spec.env) and source.parse is None:
            _from_text_kind(spec.hint)  # fails now, not at the first URL, if there is none
        found.append(spec)
    return tuple(found)


def parse(
    schema: type[OptionsT],
    *,
    keywords: Mapping[str, Any] | None = None,
    query: Mapping[str, str] | None = None,
    url: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> OptionsT:
    """Build ``schema`` from its sources: keyword > URL > environment > default.

    :param keywords: the caller's keyword options (typed values).
    :param query: the URL query (see :func:`query_of`); names the schema does not accept there
        are refused.
    :param url: values the backend's ``from_url`` derived from the rest of the URL (host,
        path), for options that declare ``url=``. Text is converted like query values.
    :param environ: where environment sources are read: by default the schema's own
        ``environ`` option when it has one and it is set, else :data:`os.environ`.
    :raises TypeError: an unknown keyword, or a keyword of the wrong type.
    :raises ValueError: an unknown URL option, or a value that is malformed or out of range.
    """
    all_specs = specs(schema)
    by_name = {spec.name: spec for spec in all_specs}
    keywords = _renamed(schema, keywords or {}, "")
    query = _renamed(schema, query or {}, "URL ")
    url = url or {}
    unknown = sorted(set(keywords) - set(by_name))
    if unknown:
        raise TypeError(
            f"unknown {schema.scheme}:// option(s): {', '.join(unknown)} "
            f"(known: {', '.join(by_name)})"
        )
    in_query = [spec.name for spec in all_specs if spec.query]
    unknown = sorted(k for k in query if k not in in_query)
    if unknown:
        known = ", ".join(sorted([*in_query, *schema.url_extras])) or "none"
        raise ValueError(
            f"unknown {schema.scheme}:// URL option(s): {', '.join(unknown)} (known: {known})"
        )
    for name in url:
        if by_name[name].url is None:
            raise AssertionError(f"{schema.__name__}.{name} does not say it comes from the URL")
    if environ is None:
        environ = keywords.get("environ") if "environ" in by_name else None
        if environ is None:
            environ = os.environ
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for spec in all_specs:
        where = f"{schema.scheme}:// URL option {spec.name}"
        if spec.name in keywords:
            values[spec.name], sources[spec.name] = keywords[spec.name], "keyword"
        elif spec.name in url:
            raw = url[spec.name]
            values[spec.name] = spec.from_text(raw, where) if isinstance(raw, str) else raw
            sources[spec.name] = "url"
        elif spec.name in query:
            text = query[spec.name]
            values[spec.name] = spec.from_text(text, f"{where}={spec.shown(text)}")
            sources[spec.name] = "url"
        else:
            for var in spec.env:
                text = environ.get(var, "").strip()
                if text:
                    where = f"environment variable {var}={spec.shown(text)} (option {spec.name})"
                    values[spec.name], sources[spec.name] = spec.from_text(text, where), f"env:{var}"
                    break
            else:
                sources[spec.name] = "default"
    options = schema(**values)
    object.__setattr__(options, "_sources", types.MappingProxyType(sources))
    return options


def _renamed(schema: type[Options], given: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """``given`` with the old names of renamed options replaced by the new ones (warned)."""
    old = [name for name in given if name in schema.renamed]
    if not old:
        return given
    out = dict(given)
    for name in old:
        new = schema.renamed[name]
        if new in out:
            raise TypeError(f"{schema.scheme}:// {where}options {name} and {new} are one option "
                            f"({name} is its old name): pass {new} only")
        warnings.warn(f"the {schema.scheme}:// {where}option {name} is now called {new}; the "
                      "old name will be removed", DeprecationWarning, stacklevel=4)
        out[new] = out.pop(name)
    return out


def query_of(url: SplitResult) -> dict[str, str]:
    """The URL's query as a dict; blank values are kept, a name given twice is refused."""
    query: dict[str, str] = {}
    for name, value in parse_qsl(url.query, keep_blank_values=True):
        if name in query:
            raise ValueError(f"the URL option {name} is given twice")
        query[name] = value
    return query


def query_flag(schema: type[Options], name: str, text: str) -> bool:
    """A boolean URL query value that is URL syntax rather than an option (Vault's ``tls=``),
    read with the same grammar and the same error as an option's.
    """
    try:
        return parse_bool(text)
    except ValueError as exc:
        raise ValueError(f"invalid {schema.scheme}:// URL option {name}={text!r}: {exc}") from None


def parse_bool(text: str) -> bool:
    """The one boolean grammar: ``true``/``false``/``1``/``0``, any case."""
    lowered = text.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("expected true or false (or 1 or 0)")


# -- types ----------------------------------------------------------------------------------


def _members(hint: Any) -> tuple[Any, ...]:
    """The members of a union (``int | None`` -> ``(int, NoneType)``), or ``(hint,)``."""
    if get_origin(hint) in (Union, types.UnionType):
        return get_args(hint)
    return (hint,)


def _from_text_kind(hint: Any) -> Any:
    """The one member of ``hint`` that text converts to (bool, int, float, str, a Literal)."""
    kinds = [m for m in _members(hint) if m in (bool, int, float, str) or get_origin(m) is Literal]
    if len(kinds) == 1:
        return kinds[0]
    raise TypeError(f"an option of type {hint} needs parse= to be read from text")


def _from_text(text: str, hint: Any) -> Any:
    kind = _from_text_kind(hint)
    if kind is bool:
        return parse_bool(text)
    if kind is int:
        try:
            return int(text)
        except ValueError:
            raise ValueError("expected a whole number") from None
    if kind is float:
        try:
            return float(text)
        except ValueError:
            raise ValueError("expected a number") from None
    if kind is str:
        return text
    for choice in get_args(kind):
        if str(choice) == text:
            return choice
    raise ValueError(f"expected one of {', '.join(str(c) for c in get_args(kind))}")


def _matches(value: object, hint: Any) -> bool:
    """Whether ``value`` is of type ``hint``, as far as can be told at run time."""
    if hint is Any:
        return True
    if hint is type(None):
        return value is None
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        return any(_matches(value, member) for member in get_args(hint))
    if origin is Literal:  # the type here; the choice is checked with the range
        return any(type(value) is type(choice) for choice in get_args(hint))
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if origin is tuple:
        args = get_args(hint)
        if not isinstance(value, tuple):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(item, args[0]) for item in value)
        return len(args) == len(value) and all(map(_matches, value, args))
    cls = origin or hint
    if not isinstance(cls, type):
        return True
    try:
        return isinstance(value, cls)
    except TypeError:  # a Protocol that cannot be checked at run time
        return True


def _as_tuple(value: object, hint: Any) -> object:
    """A list for a tuple-typed option becomes a tuple: the options object is immutable."""
    if isinstance(value, list) and any(get_origin(m) is tuple for m in _members(hint)):
        return tuple(value)
    return value


def _checked(spec: Spec, value: object, what: str) -> object:
    value = _as_tuple(value, spec.hint)
    if not _matches(value, spec.hint):
        raise TypeError(f"{what} must be {spec.type}, not {type(value).__name__}")
    problem = _choice_problem(spec.hint, value) or _range_problem(spec.source, value)
    if problem is None and spec.source.check is not None and value is not None:
        problem = spec.source.check(value)
    if problem is not None:
        shown = "" if spec.secret else f", not {value!r}"
        raise ValueError(f"{what} must be {problem}{shown}")
    return value


def _choice_problem(hint: Any, value: object) -> str | None:
    for member in _members(hint):
        choices = get_args(member) if get_origin(member) is Literal else ()
        if choices and any(type(value) is type(c) for c in choices) and value not in choices:
            return "one of " + ", ".join(repr(c) for c in choices)
    return None


def _bounds(source: _Source) -> str | None:
    """The range of a number option in words, or ``None``."""
    low, high, above = source.ge, source.le, source.gt
    if above is not None:
        return f"more than {above:g}"
    if low is not None and high is not None:
        return f"between {low:g} and {high:g}"
    if low is not None:
        return f"at least {low:g}"
    if high is not None:
        return f"at most {high:g}"
    return None


def _range_problem(source: _Source, value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value):
        return "a finite number"
    low, high, above = source.ge, source.le, source.gt
    inside = (
        (above is None or value > above)
        and (low is None or value >= low)
        and (high is None or value <= high)
    )
    return None if inside else _bounds(source)


def build(schema: type[OptionsT], options: OptionsT | None, keywords: Mapping[str, Any]) -> OptionsT:
    """A backend constructor's options: the ``options=`` object, or its keywords parsed.

    :raises TypeError: both were given, or ``options`` is not a ``schema``.
    """
    if options is None:
        return parse(schema, keywords=keywords)
    if keywords:
        raise TypeError(f"pass options= or keyword options ({', '.join(keywords)}), not both")
    if not isinstance(options, schema):
        raise TypeError(f"options must be {schema.__name__}, not {type(options).__name__}")
    return options


#: Seconds per request, or a ``(connect, read)`` pair: the ``timeout`` option of every backend
#: that talks to a service.
Timeout = float | tuple[float, float]


def parse_timeout(value: str) -> Timeout:
    """A ``timeout`` from a URL or the environment: ``10``, ``10s`` (the ``vault`` CLI's form) or
    ``5,30`` (connect, read)."""
    def seconds(text: str) -> float:
        text = text.strip().lower()
        try:
            return float(text[:-1]) if text.endswith("s") else float(text)
        except ValueError:
            raise ValueError("expected seconds, such as 10, 10s or 5,30 (connect, read)") from None

    parts = value.split(",")
    if len(parts) == 2:
        return seconds(parts[0]), seconds(parts[1])
    if len(parts) != 1:
        raise ValueError("expected seconds, such as 10, 10s or 5,30 (connect, read)")
    return seconds(value)


def timeout_problem(timeout: Timeout | None) -> str | None:
    """What is wrong with a ``timeout`` (``None`` when nothing is)."""
    if timeout is None:
        return None  # the types are the schema's to check
    values = timeout if isinstance(timeout, tuple) else (timeout,)
    return None if all(math.isfinite(v) and v > 0 for v in values) else "positive seconds"


def timeout_pair(timeout: Timeout) -> tuple[float, float]:
    """``(connect, read)`` seconds of a ``timeout`` (one number is both)."""
    return (float(timeout[0]), float(timeout[1])) if isinstance(timeout, tuple) else (
        float(timeout), float(timeout))
