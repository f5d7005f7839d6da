"""OpenTelemetry: spans and metrics from the store's audit events, on the OpenTelemetry API only.

:func:`instrument` adds an audit hook to a store. The application picks the SDK and the
exporters (or none: without an SDK the API's no-op providers make this free)::

    from helium_secrets.integrations.opentelemetry import instrument

    telemetry = instrument(store)            # the global tracer and meter providers
    ...
    telemetry.uninstrument()

``store`` is a :class:`~helium_secrets.SecretStore` or an
:class:`~helium_secrets.AsyncSecretStore`, with the same spans and metrics: on the async twin a
span is current in the task that runs the operation (OpenTelemetry's context is a context
variable), and the metrics read from ``stats()`` are read with
:meth:`~helium_secrets.AsyncSecretStore.stats_nowait` in the SDK's reader thread, which awaits
nothing on the event loop.

**Spans.** One ``INTERNAL`` span per store operation, named ``helium_secrets.<operation>``
(``helium_secrets.get``, ``helium_secrets.put``, ...), a child of the span current on the
calling thread. An operation that reaches the backend has its span current while it runs
(:meth:`~helium_secrets.SecretStore.add_call_context`), so the spans the backend's SDK makes
meanwhile (botocore's, an instrumented HTTP client's) are its children. Reads served from the
cache make no span unless ``trace_cache_hits=True`` (they are counted by the metrics either
way); those, and reads that waited on another caller's fetch (``coalesced``), are recorded
from their audit event, with their real start and end times. Attributes:

========================================  ================================================
``helium_secrets.backend``                the backend (``aws``, ``vault``, ``memory``, ...)
``helium_secrets.operation``              ``get``, ``get_many``, ``put``, ``probe``, ...
``helium_secrets.outcome``                ``ok`` or ``error``
``helium_secrets.cache``                  ``hit``, ``miss``, ``stale``, ``negative``, ``coalesced``
``helium_secrets.attempts``               backend attempts made (0 from the cache)
``helium_secrets.retries``                attempts beyond the first
``helium_secrets.version``                the version read or written, when known
``helium_secrets.secret.name``            the secret's name, only with ``record_names=True``
``error.type``                            the portable error code (``not_found``, ``throttled``, ...)
========================================  ================================================

A failed operation's span has status ``ERROR`` with the error code as its description. A value
is never recorded: audit events carry none.

**Metrics** (attributes: backend, operation, outcome, ``error.type``):

* ``helium_secrets.operation.duration`` (histogram, seconds; reads served from the cache are
  not timed);
* ``helium_secrets.backend.calls`` (counter: attempts that reached the backend);
* ``helium_secrets.retries`` (counter);
* ``helium_secrets.cache.results`` (observable counter from the store's stats, by backend and
  ``helium_secrets.cache``: nothing is added on the cache-hit path);
* ``helium_secrets.guard.trips`` (observable counter from the store's stats, by backend: times
  the fail-fast guard opened).

Install ``helium-secrets[opentelemetry]`` (``opentelemetry-api``; the SDK is the application's
choice).
"""

from __future__ import annotations

import sys
import threading
import weakref
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Union

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Meter, MeterProvider, Observation
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider

from helium_secrets import __version__
from helium_secrets._store import SecretStore
from helium_secrets.layers.audit import AuditEvent

if TYPE_CHECKING:  # imported when an async store is given: it loads asyncio
    from helium_secrets._async._store import AsyncSecretStore

#: What :func:`instrument` takes: either twin.
AnyStore = Union[SecretStore, "AsyncSecretStore"]

__all__ = ["SCOPE", "Instrumentation", "instrument"]

#: The instrumentation scope's name, for tracers and meters.
SCOPE = "helium_secrets"


class _Instruments:
    """The metric instruments of one meter, shared by every store instrumented on it."""

    def __init__(self, meter: Meter) -> None:
        self.duration = meter.create_histogram(
            "helium_secrets.operation.duration", unit="s",
            description="Duration of helium-secrets store operations, waits and retries included")
        self.backend_calls = meter.create_counter(
            "helium_secrets.backend.calls", unit="{call}",
            description="Attempts that reached the backend")
        self.retries = meter.create_counter(
            "helium_secrets.retries", unit="{retry}", description="Backend attempts retried")
        self.stores: weakref.WeakSet[AnyStore] = weakref.WeakSet()
        # Read from the stores' counters at collection time, in the reader's thread: nothing
        # is added on the cache-hit path, and nothing waits on an async store's event loop.
        meter.create_observable_counter(
            "helium_secrets.cache.results", callbacks=[self._cache_results], unit="{result}",
            description="Reads by cache result (hit, miss, stale, negative, coalesced)")
        meter.create_observable_counter(
            "helium_secrets.guard.trips", callbacks=[self._guard_trips], unit="{trip}",
            description="Times the fail-fast guard opened after repeated failures")

    def _totals(self, counters: dict[str, str]) -> Iterable[Observation]:
        """``counters`` (stats field -> attribute value) summed per backend, over live stores."""
        totals: dict[tuple[str, str], int] = {}
        for store in list(self.stores):
            if store.closed:
                continue
            stats = store.stats_nowait()
            for field, label in counters.items():
                key = (store.backend.name, label)
                totals[key] = totals.get(key, 0) + stats[field]
        return [Observation(n, {"helium_secrets.backend": backend, **({"helium_secrets.cache": label}
                                                                      if label else {})})
                for (backend, label), n in sorted(totals.items())]

    def _cache_results(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._totals(_CACHE_RESULTS)

    def _guard_trips(self, options: CallbackOptions) -> Iterable[Observation]:
        return self._totals({"guard_trips": ""})


#: The store's counters behind ``helium_secrets.cache.results``, by cache result.
_CACHE_RESULTS = {"hits": "hit", "misses": "miss", "stale_served": "stale",
                  "negative_hits": "negative", "coalesced": "coalesced"}

_lock = threading.Lock()
_by_meter: dict[int, tuple[Meter, _Instruments]] = {}


def _instruments_for(meter: Meter) -> _Instruments:
    # One set per meter: creating an instrument twice on one meter keeps the first callbacks.
    with _lock:
        found = _by_meter.get(id(meter))
        if found is None or found[0] is not meter:
            found = _by_meter[id(meter)] = (meter, _Instruments(meter))
        return found[1]


class Instrumentation:
    """The audit hook :func:`instrument` added to a store; :meth:`uninstrument` removes it."""

    def __init__(self, store: AnyStore, *, tracer_provider: TracerProvider | None,
                 meter_provider: MeterProvider | None, record_names: bool,
                 trace_cache_hits: bool) -> None:
        self.store = store
        self.record_names = record_names
        self.trace_cache_hits = trace_cache_hits
        self._tracer = trace.get_tracer(SCOPE, __version__, tracer_provider)
        self._metrics = _instruments_for(metrics.get_meter(SCOPE, __version__, meter_provider))
        self._metrics.stores.add(store)
        self._attribute_sets: dict[tuple[str, str, str, str | None], dict[str, Any]] = {}
        #: The span of the backend call running in this context, and its operation.
        self._running: ContextVar[tuple[Span, str] | None] = ContextVar(
            "helium_secrets_span", default=None)
        store.add_audit_hook(self)
        store.add_call_context(self._call_span)

    @contextmanager
    def _call_span(self, operation: str, name: str | None) -> Iterator[None]:
        """The operation's span, current while the backend call runs; the audit event (emitted
        inside) fills in its attributes."""
        span = self._tracer.start_span(f"helium_secrets.{operation}", kind=SpanKind.INTERNAL)
        token = self._running.set((span, operation))
        try:
            with trace.use_span(span, end_on_exit=True, record_exception=False,
                                set_status_on_exception=False):
                yield
        finally:
            self._running.reset(token)

    def __call__(self, event: AuditEvent) -> None:
        if event.cache == "hit":  # the hot path: counted by store.stats(), traced on request
            if self.trace_cache_hits:
                self._span(event, self._attributes(event), 0)
            return
        m = self._metrics
        common = self._attributes(event)
        m.duration.record(event.latency_s, common)
        if event.attempts:
            m.backend_calls.add(event.attempts, common)
        retries = max(event.attempts - 1, 0)
        if retries:
            m.retries.add(retries, common)
        self._span(event, common, retries)

    def _attributes(self, event: AuditEvent) -> dict[str, Any]:
        """The metric attributes of ``event`` (shared, never mutated: there are few kinds)."""
        key = (event.backend, event.operation, event.outcome, event.error_code)
        found = self._attribute_sets.get(key)
        if found is None:
            found = {"helium_secrets.backend": event.backend,
                     "helium_secrets.operation": event.operation,
                     "helium_secrets.outcome": event.outcome}
            if event.error_code is not None:
                found["error.type"] = event.error_code
            self._attribute_sets[key] = found
        return found

    def _span(self, event: AuditEvent, common: dict[str, Any], retries: int) -> None:
        attributes = {**common, "helium_secrets.attempts": event.attempts,
                      "helium_secrets.retries": retries}
        if event.cache is not None:
            attributes["helium_secrets.cache"] = event.cache
        if event.version is not None:
            attributes["helium_secrets.version"] = event.version
        if self.record_names and event.name is not None:
            attributes["helium_secrets.secret.name"] = event.name
        running = self._running.get()
        if running is not None and running[1] == event.operation:
            # The event of the call this span wraps: the span ends when the call's context does.
            self._running.set(None)
            running[0].set_attributes(attributes)
            self._set_status(running[0], event)
            return
        end = int(event.timestamp * 1e9)
        span = self._tracer.start_span(f"helium_secrets.{event.operation}", kind=SpanKind.INTERNAL,
                                       attributes=attributes,
                                       start_time=end - int(event.latency_s * 1e9))
        self._set_status(span, event)
        span.end(end_time=end)

    @staticmethod
    def _set_status(span: Span, event: AuditEvent) -> None:
        if event.error_code is not None:
            span.set_status(Status(StatusCode.ERROR, event.error_code))

    def uninstrument(self) -> None:
        """Stop recording this store's events."""
        self.store.remove_audit_hook(self)
        self.store.remove_call_context(self._call_span)
        self._metrics.stores.discard(self.store)

    def __repr__(self) -> str:
        return f"<helium_secrets OpenTelemetry instrumentation of {self.store!r}>"


def instrument(
    store: AnyStore,
    *,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    record_names: bool = False,
    trace_cache_hits: bool = False,
) -> Instrumentation:
    """Record spans and metrics for every operation of ``store``, a
    :class:`~helium_secrets.SecretStore` or an :class:`~helium_secrets.AsyncSecretStore` (see
    the module's docs).

    :param tracer_provider: default: the global one.
    :param meter_provider: default: the global one.
    :param record_names: add the secret's name to spans (``helium_secrets.secret.name``).
        Off by default: a name can say more than it should (``customers/acme/db``).
    :param trace_cache_hits: make a span for reads served from the cache too.
    """
    if not isinstance(store, SecretStore) and not _is_async_store(store):
        raise TypeError(
            f"store must be a SecretStore or an AsyncSecretStore, not {type(store).__name__}")
    for flag, value in (("record_names", record_names), ("trace_cache_hits", trace_cache_hits)):
        if not isinstance(value, bool):
            raise TypeError(f"{flag} must be a bool, not {type(value).__name__}")
    return Instrumentation(store, tracer_provider=tracer_provider, meter_provider=meter_provider,
                           record_names=record_names, trace_cache_hits=trace_cache_hits)


def _is_async_store(store: object) -> bool:
    # Imported only when it could be one: a sync application's process loads no asyncio.
    if "helium_secrets._async._store" not in sys.modules:
        return False
    from helium_secrets._async._store import AsyncSecretStore

    return isinstance(store, AsyncSecretStore)
