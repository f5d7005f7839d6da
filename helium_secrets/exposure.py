"""Finding a store's real secret values where they must not be: in files, a git history, logs.

A :class:`Matcher` holds, in memory only, the values of a store's secrets (their current and,
on request, previous versions; a JSON secret's field values too) in the forms they are usually
leaked in (as they are, base64, URL-encoded, hex, escaped in a JSON string), and searches text
for all of them at once with an Aho-Corasick automaton (`pyahocorasick`_), so that the cost of a
scan grows with the text, not with the number of values. What it reports (:class:`Finding`)
names the place (source, line, column, commit), the secret (name, version, field, whether it is
the current version) and the encoding, and never the value or any text around it.

A value shorter than :data:`MIN_LENGTH` characters is not searched for (it would match ordinary
text): it is reported as :class:`Unscannable`, as is a version that cannot be read.

Everything here is free of I/O except :func:`matcher_from_store`, which reads the values through
a store's public API; the command line's ``helium-secrets scan`` feeds files, stdin and
``git log -p`` (:func:`lines_of`, :func:`git_log_lines`) into :func:`scan`, which can add
`detect-secrets`_' pattern and entropy findings for credentials that are in no store.

.. _pyahocorasick: https://pypi.org/project/pyahocorasick/
.. _detect-secrets: https://pypi.org/project/detect-secrets/
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, NamedTuple
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from helium_secrets._store import SecretStore

__all__ = [
    "ENCODINGS",
    "GIT_COMMIT_FORMAT",
    "MIN_LENGTH",
    "Finding",
    "KnownValue",
    "Line",
    "Matcher",
    "Unscannable",
    "git_log_lines",
    "lines_of",
    "matcher_from_store",
    "scan",
]

#: Values (and JSON field values) shorter than this many characters are not searched for: a
#: value that short matches ordinary text. They are reported as :class:`Unscannable`.
MIN_LENGTH = 8

#: The forms a value is searched in, as :attr:`Finding.encoding` names them.
ENCODINGS = ("raw", "base64", "base64url", "url", "hex", "json")

_EXTRA = "pip install 'helium-secrets[scan]'"


@dataclass(frozen=True, slots=True)
class KnownValue:
    """What one searched value stands for (never the value itself).

    :param name: the secret's name.
    :param version: the version the value is from.
    :param current: whether that is the current version (a find means: rotate now).
    :param field: for a JSON secret's field, its dotted path; ``None`` for the whole value.
    """

    name: str
    version: str
    current: bool
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Unscannable:
    """A value the matcher does not search for, and why (never the value).

    :param reason: ``"shorter than N characters"``, or why the version could not be read.
    """

    name: str
    version: str | None
    field: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Finding:
    """Where a value was found, or (``kind == "heuristic"``) where a likely credential is.

    It holds no value and no text of the line it was found in.

    :param source: the file's path (``"-"`` for stdin).
    :param line: the line's number, from 1 (in the file as of ``commit``).
    :param column: the column the match starts at, in characters from 1.
    :param commit: the commit that added the line, for a find in a git history.
    :param name: the secret found (``None`` for a heuristic finding).
    :param version: its version.
    :param current: whether that version is the current one.
    :param field: the JSON field found, where the match is of one field's value.
    :param encoding: the form it was found in (one of :data:`ENCODINGS`).
    :param kind: ``"known"`` for a store's value, ``"heuristic"`` for a detect-secrets finding.
    :param rule: for a heuristic finding, the detector's name (``"AWS Access Key"``, ...).
    """

    source: str
    line: int
    column: int
    commit: str | None = None
    name: str | None = None
    version: str | None = None
    current: bool | None = None
    field: str | None = None
    encoding: str | None = None
    kind: Literal["known", "heuristic"] = "known"
    rule: str | None = None


def _base64_fragments(data: bytes, altchars: bytes | None) -> Iterator[str]:
    """The parts of ``data``'s base64 form that do not depend on what surrounds it, for each
    of the three alignments it can have inside a longer base64 text."""
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data, altchars).decode("ascii")
        # A character holds 6 bits: keep those made only of the value's bits.
        start, end = -(-8 * offset // 6), 8 * (offset + len(data)) // 6
        yield encoded[start:end]


def _forms(value: str, *, by_line: bool = True) -> Iterator[tuple[str, str]]:
    """``(encoding, text)`` for each form ``value`` is searched in.

    :param by_line: search a value of several lines by its longest line (text is searched
        line by line); not for a JSON document, whose fields are searched instead.
    """
    if "\n" not in value:
        yield "raw", value
    elif by_line:
        yield "raw", max(value.splitlines(), key=len)
    data = value.encode("utf-8", "surrogateescape")
    for fragment in _base64_fragments(data, None):
        yield "base64", fragment
    for fragment in _base64_fragments(data, b"-_"):
        yield "base64url", fragment
    yield "url", quote(value, safe="", encoding="utf-8", errors="surrogateescape")
    yield "url", quote_plus(value, safe="", encoding="utf-8", errors="surrogateescape")
    hexed = binascii.hexlify(data).decode("ascii")
    yield "hex", hexed
    yield "hex", hexed.upper()
    yield "json", json.dumps(value)[1:-1]


def _json_fields(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """``(dotted path, string)`` for every string and number leaf of a JSON document."""
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _json_fields(child, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _json_fields(child, f"{path}.{index}" if path else str(index))
    elif isinstance(node, str):
        yield path, node
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path, json.dumps(node)


class Matcher:
    """The values to look for, in memory only, searched all at once.

    Add values with :meth:`add`, then search with :meth:`find` (or :func:`scan`).
    :meth:`close` (or leaving a ``with`` block) drops the values. Its ``repr`` shows counts
    only.

    :param min_length: values shorter than this are not searched for (:data:`MIN_LENGTH`).
    :raises ImportError: pyahocorasick is not installed (the ``scan`` extra).
    """

    def __init__(self, *, min_length: int = MIN_LENGTH) -> None:
        try:
            import ahocorasick
        except ImportError:  # pragma: no cover - the extra is in the test environment
            raise ImportError(f"scanning needs pyahocorasick: {_EXTRA}") from None
        if min_length < 1:
            raise ValueError(f"min_length must be at least 1, not {min_length!r}")
        self.min_length = min_length
        self._automaton: Any = ahocorasick.Automaton()
        self._built = False
        self._closed = False
        self.known: list[KnownValue] = []
        #: The values that are not searched for, and why.
        self.unscannable: list[Unscannable] = []

    def __repr__(self) -> str:
        return (f"<Matcher: {len(self.known)} value(s), {len(self.unscannable)} unscannable"
                f"{', closed' if self._closed else ''}>")

    def __enter__(self) -> Matcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop every value (and the automaton built from them)."""
        self._automaton.clear()
        self._closed = True

    def _pattern(self, text: str, hit: tuple[int, str]) -> None:
        # Each pattern's payload: its length (to find where a match starts) and what it is.
        entry: tuple[int, list[tuple[int, str]]] | None = self._automaton.get(text, None)
        if entry is None:
            self._automaton.add_word(text, (len(text), [hit]))
        elif all(index != hit[0] for index, _ in entry[1]):
            entry[1].append(hit)  # another secret with the same value: both are reported

    def add(self, known: KnownValue, value: str | bytes) -> None:
        """Look for ``value`` (and, if it is a JSON object or array, for each of its fields'
        values) as :class:`KnownValue` ``known``.

        :raises RuntimeError: the matcher has been searched with or closed already.
        """
        if self._built or self._closed:
            raise RuntimeError("values are added before the matcher searches, and not after "
                               "it is closed")
        text = (value.decode("utf-8", "surrogateescape") if isinstance(value, bytes)
                else value)
        document: Any = None
        if text[:1] in ("{", "["):
            try:
                document = json.loads(text)
            except ValueError:
                document = None
        # A pretty-printed document's longest line is no secret ("host": ...): its fields are.
        self._add_one(known, text, by_line=document is None)
        if document is not None:
            for path, leaf in _json_fields(document):
                self._add_one(KnownValue(known.name, known.version, known.current, path), leaf)

    def _add_one(self, known: KnownValue, text: str, *, by_line: bool = True) -> None:
        if len(text) < self.min_length:
            self.unscannable.append(Unscannable(known.name, known.version, known.field,
                                                f"shorter than {self.min_length} characters"))
            return
        index = len(self.known)
        self.known.append(known)
        for encoding, form in _forms(text, by_line=by_line):
            if len(form) >= self.min_length:
                self._pattern(form, (index, encoding))

    def find(self, line: str) -> Iterator[tuple[int, KnownValue, str]]:
        """``(column from 1, what was found, encoding)`` for each value found in ``line``.

        :raises RuntimeError: the matcher is closed.
        """
        if self._closed:
            raise RuntimeError("the matcher is closed")
        if not self._built:
            self._built = True
            if len(self._automaton):
                self._automaton.make_automaton()
        if not len(self._automaton):
            return
        found: dict[tuple[int, int], str] = {}
        for end, (length, hits) in self._automaton.iter(line):
            for index, encoding in hits:
                # setdefault: one form that is also part of another is reported once.
                found.setdefault((end - length + 2, index), encoding)
        for (column, index), encoding in sorted(found.items()):
            yield column, self.known[index], encoding


class Line(NamedTuple):  # a tuple: one is made for every line searched
    """One line of text to search (``text``), and where it comes from: the file's path
    (``source``, ``"-"`` for stdin), the line's number from 1 (``number``) and, in a git
    history, the commit that added it (``commit``)."""

    source: str
    number: int
    text: str = ""
    commit: str | None = None

    def __repr__(self) -> str:  # the text may be a secret
        return f"Line({self.source!r}, {self.number}, commit={self.commit!r})"


def lines_of(source: str, lines: Iterable[str | bytes]) -> Iterator[Line]:
    """The lines of a file or stream (bytes are read as UTF-8), numbered from 1."""
    for number, raw in enumerate(lines, 1):
        text = raw.decode("utf-8", "surrogateescape") if isinstance(raw, bytes) else raw
        yield Line(source, number, text.rstrip("\r\n"))


#: The header line ``helium-secrets scan`` asks ``git log`` to print before each commit's diff
#: (``--format``): it starts with none of the characters a diff's lines start with.
GIT_COMMIT_FORMAT = "commit:%H"
_HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,\d+)? @@")


def git_log_lines(output: Iterable[bytes]) -> Iterator[Line]:
    """The lines that each commit added, from the output of
    ``git log -p -U0 --format=commit:%H`` (the lines a commit removed were added by an earlier
    one, and context lines are not shown).

    :param output: the output's lines, as bytes.
    """
    commit: str | None = None
    path: str | None = None
    number = 0
    in_hunk = False
    for raw in output:
        if in_hunk and raw[:1] in (b"+", b"-", b" ", b"\\"):
            if raw[:1] == b"+":
                if path is not None:
                    text = raw[1:].decode("utf-8", "surrogateescape").rstrip("\r\n")
                    yield Line(path, number, text, commit)
                number += 1
            continue
        in_hunk = False
        if raw.startswith(b"commit:"):
            commit, path = raw[7:].strip().decode("ascii", "replace"), None
        elif raw.startswith(b"+++ "):
            target = raw[4:].rstrip(b"\r\n").decode("utf-8", "surrogateescape")
            if target.startswith('"') and target.endswith('"'):
                target = target[1:-1]
            path = None if target == "/dev/null" else target.removeprefix("b/")
        elif (hunk := _HUNK.match(raw)) is not None:
            in_hunk, number = True, int(hunk.group(1))


class _Heuristics:
    """detect-secrets' plugins (patterns and entropy), with its default settings."""

    def __init__(self) -> None:
        try:
            from detect_secrets.core.scan import scan_line
            from detect_secrets.settings import default_settings
        except ImportError:  # pragma: no cover - the extra is in the test environment
            raise ImportError(f"heuristic findings need detect-secrets: {_EXTRA}") from None
        self._scan_line = scan_line
        self._settings = default_settings

    def scan(self, lines: Iterable[Line]) -> Iterator[tuple[Line, int, str]]:
        with self._settings():
            for line in lines:
                for potential in self._scan_line(line.text):
                    found = line.text.find(potential.secret_value or "\0")
                    yield line, found + 1 if found >= 0 else 1, str(potential.type)


def scan(lines: Iterable[Line], matcher: Matcher | None, *,
         heuristics: bool = False) -> Iterator[Finding]:
    """Search ``lines`` for the matcher's values and, with ``heuristics``, for what
    detect-secrets takes for a credential (left out on a line where a known value is found).

    :param matcher: the known values; ``None`` for heuristic findings only.
    :raises ImportError: ``heuristics`` without detect-secrets installed (the ``scan`` extra).
    """
    if not heuristics:
        for line in lines:
            yield from _known(line, matcher)
        return
    known_lines: set[tuple[str, int, str | None]] = set()

    def searched() -> Iterator[Line]:
        for line in lines:
            findings = list(_known(line, matcher))
            if findings:
                known_lines.add((line.source, line.number, line.commit))
            pending.extend(findings)
            yield line

    pending: list[Finding] = []
    for line, column, rule in _Heuristics().scan(searched()):
        yield from pending
        pending.clear()
        if (line.source, line.number, line.commit) not in known_lines:
            yield Finding(source=line.source, line=line.number, column=column,
                          commit=line.commit, kind="heuristic", rule=rule)
    yield from pending


def _known(line: Line, matcher: Matcher | None) -> Iterator[Finding]:
    if matcher is None:
        return
    for column, known, encoding in matcher.find(line.text):
        yield Finding(source=line.source, line=line.number, column=column, commit=line.commit,
                      name=known.name, version=known.version, current=known.current,
                      field=known.field, encoding=encoding)


def matcher_from_store(store: SecretStore, prefix: str = "", *,
                       versions: Literal["current", "all"] = "current",
                       min_length: int = MIN_LENGTH) -> Matcher:
    """A matcher for the values of the secrets under ``prefix`` in ``store``: each one's
    current version, and with ``versions="all"`` every other version it can read. A secret or
    version that cannot be read is :attr:`Matcher.unscannable` with the error's code.

    :raises ValueError: ``versions`` is neither ``"current"`` nor ``"all"``.
    """
    from helium_secrets.errors import HeliumError, SecretNotFoundError, UnsupportedError

    if versions not in ("current", "all"):
        raise ValueError(f"versions must be 'current' or 'all', not {versions!r}")
    matcher = Matcher(min_length=min_length)
    try:
        for name in store.list(prefix):
            try:
                secret = store.get(name)
                current = secret.version
                matcher.add(KnownValue(name, current, True), _revealed(secret.value))
                del secret
                if versions == "current":
                    continue
                try:
                    infos = store.versions(name)
                except UnsupportedError:
                    continue
            except SecretNotFoundError:
                continue  # deleted meanwhile
            except HeliumError as exc:
                matcher.unscannable.append(Unscannable(name, None, None,
                                                       f"not readable [{exc.code.value}]"))
                continue
            for info in infos:
                if info.version == current:
                    continue
                try:
                    old = store.get(name, info.version)
                except HeliumError as exc:
                    matcher.unscannable.append(Unscannable(
                        name, info.version, None, f"not readable [{exc.code.value}]"))
                    continue
                matcher.add(KnownValue(name, info.version, False), _revealed(old.value))
                del old
    except BaseException:
        matcher.close()
        raise
    return matcher


def _revealed(value: Any) -> str | bytes:
    return value.reveal_bytes() if value.is_binary else value.reveal()  # type: ignore[no-any-return]
