"""The OpenTelemetry integration with the OTel SDK's in-memory exporters: span names,
attributes and metrics as documented, and a canary value (or, by default, name) nowhere."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from helium_secrets import GuardPolicy, PollPolicy, RetryPolicy, SecretStore, errors
from helium_secrets.backends.memory import MemoryBackend
from helium_secrets.integrations.opentelemetry import Instrumentation, instrument
from helium_secrets.testing import ManualClock

CANARY = "canary-otel-3b7d-never-show-me"
NAME = "customers/acme-canary-name/db"


class Telemetry:
    def __init__(self) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def metrics(self) -> dict[str, list[tuple[dict[str, Any], Any]]]:
        """name -> [(attributes, value: sum, or the histogram's count)]"""
        data = self.reader.get_metrics_data()
        found: dict[str, list[tuple[dict[str, Any], Any]]] = {}
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        value = getattr(point, "value", None)
                        if value is None:
                            value = point.count  # type: ignore[union-attr]
                        found.setdefault(metric.name, []).append((dict(point.attributes or {}), value))
        return found

    def everything(self) -> str:
        spans = [span.to_json() for span in self.finished()]
        data = self.reader.get_metrics_data()
        return json.dumps(spans) + (data.to_json() if data is not None else "")


@pytest.fixture
def telemetry() -> Telemetry:
    return Telemetry()


@pytest.fixture
def store(telemetry: Telemetry) -> Iterator[SecretStore]:
    with SecretStore(MemoryBackend(), clock=ManualClock(), poll=PollPolicy(interval=None),
                     guard=GuardPolicy(threshold=2, cooldown=30)) as s:
        yield s


def _instrument(store: SecretStore, telemetry: Telemetry, **options: Any) -> Instrumentation:
    return instrument(store, tracer_provider=telemetry.tracer_provider,
                      meter_provider=telemetry.meter_provider, **options)


def test_one_internal_span_per_operation_with_the_documented_attributes(
    store: SecretStore, telemetry: Telemetry
) -> None:
    _instrument(store, telemetry)
    store.put(NAME, CANARY)  # a write drops the cached value
    store.get(NAME)  # a miss
    store.get(NAME)  # a cache hit: counted, no span
    with pytest.raises(errors.SecretNotFoundError):
        store.get("missing")
    spans = telemetry.finished()
    assert [s.name for s in spans] == ["helium_secrets.put", "helium_secrets.get",
                                       "helium_secrets.get"]
    assert {s.kind for s in spans} == {SpanKind.INTERNAL}
    put, get, missing = (dict(s.attributes or {}) for s in spans)
    assert put == {"helium_secrets.backend": "memory", "helium_secrets.operation": "put",
                   "helium_secrets.outcome": "ok", "helium_secrets.attempts": 1,
                   "helium_secrets.retries": 0, "helium_secrets.version": "1"}
    assert get["helium_secrets.cache"] == "miss"
    assert missing["error.type"] == "not_found" and missing["helium_secrets.outcome"] == "error"
    assert spans[2].status.status_code is StatusCode.ERROR
    for span in spans:
        assert span.start_time is not None and span.end_time is not None
        assert span.start_time <= span.end_time
    text = telemetry.everything()
    assert CANARY not in text and NAME not in text


def test_spans_are_children_of_the_callers_span(store: SecretStore, telemetry: Telemetry) -> None:
    _instrument(store, telemetry)
    tracer = telemetry.tracer_provider.get_tracer("app")
    with tracer.start_as_current_span("request") as parent:
        store.put("a", "v")
    put = next(s for s in telemetry.finished() if s.name == "helium_secrets.put")
    assert put.parent is not None and put.parent.span_id == parent.get_span_context().span_id


def test_names_only_when_asked_and_cache_hits_on_request(store: SecretStore,
                                                        telemetry: Telemetry) -> None:
    _instrument(store, telemetry, record_names=True, trace_cache_hits=True)
    store.put(NAME, CANARY)
    store.get(NAME)
    store.get(NAME)
    spans = telemetry.finished()
    assert [s.name for s in spans] == ["helium_secrets.put"] + ["helium_secrets.get"] * 2
    assert {dict(s.attributes or {})["helium_secrets.secret.name"] for s in spans} == {NAME}
    assert dict(spans[2].attributes or {})["helium_secrets.cache"] == "hit"
    assert CANARY not in telemetry.everything()


def test_metrics_count_cache_results_backend_calls_retries_and_guard_trips(
    telemetry: Telemetry,
) -> None:
    backend = MemoryBackend()
    store = SecretStore(backend, clock=ManualClock(), poll=PollPolicy(interval=None),
                        retry=RetryPolicy(max_attempts=3), guard=GuardPolicy(threshold=3))
    _instrument(store, telemetry)
    store.put("a", CANARY)
    store.get("a")  # miss (the write dropped the cached value)
    store.get("a")  # hit
    backend.fail_next(2, operations=["get"])
    store.get("a", ttl=0)  # two transient failures, then success: 3 attempts, 2 retries
    backend.fail_next(3, operations=["get"])
    with pytest.raises(errors.UnavailableError):
        store.get("b", ttl=0)  # 3 failed attempts: the guard opens
    found = telemetry.metrics()
    cache = {a["helium_secrets.cache"]: v for a, v in found["helium_secrets.cache.results"]
             if a["helium_secrets.backend"] == "memory"}
    assert cache["hit"] == 1 and cache["miss"] == 3  # the failed read of "b" included
    assert {cache[k] for k in ("stale", "negative", "coalesced")} == {0}
    assert sum(v for _, v in found["helium_secrets.backend.calls"]) == 1 + 1 + 3 + 3
    assert sum(v for _, v in found["helium_secrets.retries"]) == 2 + 2
    assert found["helium_secrets.guard.trips"] == [({"helium_secrets.backend": "memory"}, 1)]
    durations = {(a["helium_secrets.operation"], a.get("error.type")): n
                 for a, n in found["helium_secrets.operation.duration"]}
    assert durations[("get", None)] == 2  # the miss and the retried read; a hit is not timed
    assert durations[("get", "unavailable")] == 1
    assert durations[("put", None)] == 1
    assert CANARY not in telemetry.everything()
    store.close()


def test_uninstrument_stops_recording(store: SecretStore, telemetry: Telemetry) -> None:
    telemetry_of = _instrument(store, telemetry)
    telemetry_of.uninstrument()
    store.put("a", "v")
    assert telemetry.finished() == []
    with pytest.raises(TypeError, match="record_names"):
        instrument(store, record_names="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="SecretStore"):
        instrument("mem://")  # type: ignore[arg-type]


class TracingBackend(MemoryBackend):
    """A backend whose SDK traces its own calls (as botocore's instrumentation does)."""

    def __init__(self, tracer_provider: TracerProvider) -> None:
        super().__init__()
        self.tracer = tracer_provider.get_tracer("an.sdk")

    def get(self, name: str, version: str | None = None, label: str | None = None) -> Any:
        with self.tracer.start_as_current_span("sdk.get", kind=SpanKind.CLIENT):
            return super().get(name, version, label)


def test_the_sdks_client_spans_are_children_of_the_operations_span(telemetry: Telemetry) -> None:
    backend = TracingBackend(telemetry.tracer_provider)
    backend.write_external(NAME, CANARY)
    with SecretStore(backend, clock=ManualClock(), poll=PollPolicy(interval=None),
                     retry=RetryPolicy(max_attempts=3, initial_backoff=0)) as store:
        _instrument(store, telemetry, record_names=False)
        backend.fail_next(1, operations=["get"])  # one retry: two client spans, one operation
        assert store.get(NAME).value.reveal() == CANARY
        store.get(NAME)  # a cache hit: no span, no call context
    spans = telemetry.finished()
    (get,) = [s for s in spans if s.name == "helium_secrets.get"]
    clients = [s for s in spans if s.name == "sdk.get"]
    assert len(clients) == 2
    for client in clients:
        assert client.parent is not None and client.parent.span_id == get.context.span_id
        assert get.start_time <= client.start_time and client.end_time <= get.end_time  # type: ignore[operator]
    assert get.kind is SpanKind.INTERNAL and get.parent is None
    assert get.attributes is not None
    assert dict(get.attributes) == {
        "helium_secrets.backend": "memory", "helium_secrets.operation": "get",
        "helium_secrets.outcome": "ok", "helium_secrets.attempts": 2, "helium_secrets.retries": 1,
        "helium_secrets.cache": "miss", "helium_secrets.version": get.attributes["helium_secrets.version"]}
    assert get.status.status_code is StatusCode.UNSET and not get.events
    text = telemetry.everything()
    assert CANARY not in text and NAME not in text


def test_a_failed_operations_span_wraps_its_calls_and_records_no_exception(
    telemetry: Telemetry
) -> None:
    backend = TracingBackend(telemetry.tracer_provider)
    with SecretStore(backend, poll=PollPolicy(interval=None)) as store:
        telemetry_hook = _instrument(store, telemetry)
        with pytest.raises(errors.SecretNotFoundError):
            store.get(NAME)
        telemetry_hook.uninstrument()
        with pytest.raises(errors.SecretNotFoundError):
            store.get("b")  # uninstrumented: only the SDK's span
    spans = telemetry.finished()
    (get,) = [s for s in spans if s.name == "helium_secrets.get"]
    first, second = [s for s in spans if s.name == "sdk.get"]
    assert first.parent is not None and first.parent.span_id == get.context.span_id
    assert second.parent is None
    assert get.status.status_code is StatusCode.ERROR and get.status.description == "not_found"
    assert get.attributes is not None and get.attributes["error.type"] == "not_found"
    assert not get.events  # no exception event: its message could name the secret
    assert NAME not in telemetry.everything()
