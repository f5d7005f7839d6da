"""The redactor behind the logging filter and the error-reporter scrubber.

It knows every secret value a store holds (every live store's cache, watched weakly) and the
values of the backend call running in each thread, and masks them, with their common encodings
(JSON-escaped, Python ``repr``-escaped, inside a ``bytes`` repr as botocore logs bodies, base64),
in log records and error-reporter events.

* :func:`install` adds a :class:`RedactingFilter` to every handler of the root logger (and of
  any logger given), which covers the SDKs' loggers (``botocore``, ``urllib3``, ``azure``,
  ``google``, ``hvac``...) since their records propagate to those handlers. A filter on a
  *logger* would not do: it sees only the records logged on that very logger.
* :func:`before_send` is an error-reporter hook (Sentry's ``before_send(event, hint)`` shape)
  that masks every string of an event.

Records a handler receives while a backend call runs in the same thread are held until the call
returns, then masked with the values it read or wrote too: botocore logs a response body
*before* the store has seen the value in it.

Values shorter than :data:`MIN_LENGTH` characters are never masked: masking ``"a"`` or
``"true"`` everywhere would destroy the logs, and such values are not secret enough to find.
The redactor knows values only while a filter is installed (until then the stores' hooks do
nothing), and holds none longer than the store does: a value leaves it when it leaves the cache
(eviction, invalidation, :meth:`~helium_secrets.SecretStore.clear_cache`,
:meth:`~helium_secrets.SecretStore.close`, or a store collected without being closed).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any, Protocol, TypeVar

__all__ = [
    "MASK",
    "MIN_LENGTH",
    "RedactingFilter",
    "Redactor",
    "before_send",
    "install",
    "redactor",
    "uninstall",
]

#: What a masked value is replaced with.
MASK = "**********"
#: The shortest value masked, in characters.
MIN_LENGTH = 8

E = TypeVar("E")


class ValueSource(Protocol):
    """Something that holds secret values (a store's cache)."""

    def secret_values(self) -> Iterator[str | bytes]:
        """The values it holds now."""


def _forms(value: str | bytes, min_length: int) -> set[str]:
    """The texts ``value`` may appear as in a log record: itself and its common encodings."""
    if len(value) < min_length:
        return set()
    import base64  # here, not at import: only once a filter is installed
    import json

    forms = set()
    if isinstance(value, bytes):
        data = value
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError:
            forms.add(repr(value)[2:-1])
            text = ""
    else:
        text, data = value, value.encode("utf-8", "surrogatepass")
    if text:
        escaped = json.dumps(text)[1:-1]
        forms.update((
            text,
            escaped,                                  # in a JSON body
            json.dumps(text, ensure_ascii=False)[1:-1],
            repr(text)[1:-1],                         # in a dict or tuple repr
            repr(escaped.encode("ascii"))[2:-1],      # in botocore's bytes repr of a body
        ))
    forms.add(base64.b64encode(data).decode("ascii"))  # AWS SecretBinary, GCP payloads
    return forms


class _Held:
    """One backend call in progress: its depth, the values it read or wrote, held records.

    Per thread on the sync store and per task on the async one: it lives in a context
    variable, which each thread and each task has its own of (``asyncio.to_thread`` takes the
    caller's along, so an SDK that logs in the worker thread is held with its call).
    """

    __slots__ = ("depth", "records", "values")

    def __init__(self) -> None:
        self.depth = 0
        self.values: list[str | bytes] = []
        self.records: list[tuple[logging.Handler, logging.LogRecord]] = []


class Redactor:
    """Masks the values every watched store holds in texts, log records and events.

    It knows values only while a filter is installed (:attr:`active`): until then the stores'
    hooks do nothing, and :func:`install` reads the values the stores already hold.

    Matching is an index of every form's ``stride``-long slices at the first ``stride``
    offsets, with ``stride`` half the minimum length: any occurrence of a form covers one of
    the text's slices at a multiple of ``stride``, so a text costs one index lookup per
    ``stride`` characters, and a replace of the few candidates found. Adding or removing a
    value updates the index; nothing is rebuilt.

    :param min_length: values shorter than this are not masked.
    """

    def __init__(self, min_length: int = MIN_LENGTH) -> None:
        self._sources: weakref.WeakSet[ValueSource] = weakref.WeakSet()
        self._lock = threading.RLock()
        self._held: ContextVar[_Held | None] = ContextVar(f"helium-held-{id(self)}", default=None)
        self._forms: dict[str, int] = {}     # form -> how many held values have it
        self._index: dict[str, set[str]] = {}  # slice -> the forms it begins at an offset of
        #: How many filters are installed; the stores tell values only while it is not 0.
        self.filters = 0
        self.min_length = min_length

    @property
    def min_length(self) -> int:
        """Values shorter than this many characters are not masked."""
        return self._min_length

    @min_length.setter
    def min_length(self, value: int) -> None:
        if value < 1:
            raise ValueError("min_length must be at least 1")
        with self._lock:
            self._min_length = value
            self._stride = (value + 1) // 2
            self._reload()

    @property
    def active(self) -> bool:
        """Whether a filter is installed, so that the stores tell their values."""
        return self.filters > 0

    # -- what it knows ---------------------------------------------------------------------

    def watch(self, source: ValueSource) -> None:
        """Know the values ``source`` holds from :func:`install` on; ``source`` then tells
        :meth:`add` and :meth:`discard` itself while :attr:`active`."""
        self._sources.add(source)

    def add(self, value: str | bytes) -> None:
        """Mask ``value`` until as many :meth:`discard` calls as :meth:`add` calls."""
        stride = self._stride
        with self._lock:
            for form in _forms(value, self._min_length):
                count = self._forms.get(form, 0)
                self._forms[form] = count + 1
                if not count:
                    for offset in range(stride):
                        self._index.setdefault(form[offset:offset + stride], set()).add(form)

    def discard(self, value: str | bytes) -> None:
        """Undo one :meth:`add` of ``value``."""
        stride = self._stride
        with self._lock:
            for form in _forms(value, self._min_length):
                count = self._forms.pop(form, 0) - 1
                if count > 0:
                    self._forms[form] = count
                    continue
                for offset in range(stride):
                    key = form[offset:offset + stride]
                    forms = self._index.get(key)
                    if forms is not None:
                        forms.discard(form)
                        if not forms:
                            del self._index[key]

    def _reload(self) -> None:
        """Forget every value; while active, learn again those the sources hold."""
        self._forms, self._index = {}, {}
        if self.filters:
            for _ in range(3):  # a source may change while we read it (another thread)
                try:
                    values = [v for s in list(self._sources) for v in s.secret_values()]
                    break
                except RuntimeError:
                    continue
            else:
                values = []
            for value in values:
                self.add(value)

    def _set_filters(self, count: int) -> None:
        with self._lock:
            was, self.filters = self.filters, max(0, count)
            if bool(was) != bool(self.filters):
                self._reload()

    # -- masking ---------------------------------------------------------------------------

    def redact(self, text: str) -> str:
        """``text`` with every known value masked."""
        index = self._index
        if not index or len(text) < self._min_length:
            return text
        stride = self._stride
        with self._lock:
            slices = {text[i:i + stride] for i in range(0, len(text), stride)}
            hits = list(filter(index.__contains__, slices))
            if not hits:
                return text
            candidates = {form for key in hits for form in index[key]}
        for form in sorted(candidates, key=len, reverse=True):
            text = text.replace(form, MASK)
        return text

    def redact_record(self, record: logging.LogRecord,
                      format_exception: Callable[[Any], str] | None = None) -> None:
        """Mask the values in ``record``'s message, exception text and stack, in place.

        The exception is formatted (with ``format_exception``, the handler's formatter's) into
        ``record.exc_text``, which formatters print instead of formatting ``exc_info`` again.
        """
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports it itself
            return
        masked = self.redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            formatter = format_exception or logging.Formatter().formatException
            record.exc_text = formatter(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)

    def scrub(self, event: E) -> E:
        """``event`` (dicts, lists, tuples and strings) with every string masked, keys too."""
        return self._walk(event)  # type: ignore[no-any-return]

    def _walk(self, node: Any) -> Any:
        if isinstance(node, str):
            return self.redact(node)
        if isinstance(node, dict):
            return {self._walk(k): self._walk(v) for k, v in node.items()}
        if isinstance(node, (list, tuple)):
            return type(node)(self._walk(v) for v in node)
        return node

    # -- a backend call in this thread -----------------------------------------------------

    def holding(self) -> _Hold:
        """A context for one backend call: the records this thread's protected handlers get
        meanwhile are held, and passed on masked (with the call's values too) when it ends."""
        return _Hold(self)

    def _hold(self, handler: logging.Handler, record: logging.LogRecord) -> bool:
        held = self._held.get()
        if held is not None and held.depth:
            held.records.append((handler, record))
            return True
        return False

    def _release(self, held: _Held) -> None:
        held.depth -= 1
        if held.depth:
            return
        self._held.set(None)
        records, held.records = held.records, []
        try:
            for handler, record in records:
                handler.handle(record)  # the filter now passes it, masked
        finally:
            values, held.values = held.values, []
            for value in values:
                self.discard(value)


class _Hold:
    __slots__ = ("_held", "_redactor")

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self._held = _Held()

    def __enter__(self) -> _Hold:
        current = self._redactor._held.get()
        if current is None:
            self._redactor._held.set(self._held)
        else:  # a call within a call: the outermost one holds the records
            self._held = current
        self._held.depth += 1
        return self

    def add(self, value: str | bytes | None) -> None:
        """Mask ``value`` until the outermost call of this thread or task ends."""
        if value:
            self._redactor.add(value)
            self._held.values.append(value)

    def __exit__(self, *exc_info: object) -> None:
        self._redactor._release(self._held)


#: The redactor every store's cache reports to.
redactor = Redactor()


class RedactingFilter(logging.Filter):
    """Masks secret values in the records of the handler it is added to.

    Records the handler receives while a backend call runs in the same thread are held and
    passed on, masked, when the call returns.

    :param handler: the handler this filter is added to (:func:`install` adds one per handler).
    """

    def __init__(self, handler: logging.Handler, redactor: Redactor = redactor) -> None:
        super().__init__()
        self.handler = handler
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        if self.redactor._hold(self.handler, record):
            return False
        formatter = self.handler.formatter
        self.redactor.redact_record(record, formatter.formatException if formatter else None)
        return True


def _handlers(loggers: Iterable[logging.Logger]) -> Iterator[logging.Handler]:
    seen: set[int] = set()
    for logger in loggers:
        for handler in [*logger.handlers, *([logging.lastResort] if logger.parent is None
                                            and logging.lastResort else [])]:
            if id(handler) not in seen:
                seen.add(id(handler))
                yield handler


def install(*loggers: logging.Logger, min_length: int | None = None) -> list[RedactingFilter]:
    """Protect every handler of the root logger (and of each of ``loggers``): add a
    :class:`RedactingFilter` to each, once. Idempotent; call it again after adding handlers.

    Covers every record those handlers emit, whichever logger it came from (the SDKs' loggers
    propagate to the root's handlers). Not covered: a handler added later (call again), a
    logger with ``propagate = False`` and handlers of its own (pass it), and a handler that
    reads ``record.exc_info`` objects itself instead of the formatted text (error reporters:
    use :func:`before_send`).

    :param min_length: change the shortest value masked (default :data:`MIN_LENGTH`).
    :return: the filters added now.
    """
    if min_length is not None:
        redactor.min_length = min_length
    added = []
    for handler in _handlers((logging.getLogger(), *loggers)):
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            protect = RedactingFilter(handler)
            # First: a held record has not been through the handler's other filters yet.
            handler.filters.insert(0, protect)
            added.append(protect)
    redactor._set_filters(redactor.filters + len(added))
    return added


def uninstall(*loggers: logging.Logger) -> None:
    """Turn redaction off: remove the filters from the handlers of the root logger (and of
    each of ``loggers``), and forget every value (a filter left on a handler that was removed
    from its logger meanwhile then masks nothing)."""
    for handler in _handlers((logging.getLogger(), *loggers)):
        for protect in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
            handler.removeFilter(protect)
    redactor._set_filters(0)


def before_send(event: E, hint: object = None) -> E:
    """An error-reporter hook: ``event`` with every known value masked in all its strings
    (exception values, frames' variables, breadcrumbs, extra...).

    ``sentry_sdk.init(before_send=helium_secrets.redaction.before_send)``
    """
    return redactor.scrub(event)
