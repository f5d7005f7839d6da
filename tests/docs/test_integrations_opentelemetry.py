"""docs/integrations/opentelemetry.md: its examples run as written; the documented span names,
attributes and instruments are the ones recorded."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.docs.pages import ROOT, close_stores, python_block

pytest.importorskip("opentelemetry.sdk")

PAGE = (ROOT / "docs" / "integrations" / "opentelemetry.md").read_text(encoding="utf-8")


@pytest.fixture(autouse=True)
def _close_the_examples_stores() -> Iterator[None]:
    yield
    for namespace in _namespaces:
        close_stores(namespace)
    _namespaces.clear()


_namespaces: list[dict[str, Any]] = []


def _run(*headings: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {}
    _namespaces.append(namespace)
    for heading in headings:
        exec(compile(python_block(PAGE, heading), heading, "exec"), namespace)  # noqa: S102
    return namespace


def test_instrumenting_with_the_global_no_op_providers_works() -> None:
    ns = _run("## Instrumenting a store")
    assert ns["store"].get("app/db").value.reveal() == "hunter2"


def test_the_async_example_runs() -> None:
    _run("## On the async twin")


def test_the_testing_example_records_the_documented_span() -> None:
    _run("## Instrumenting a store", "## Testing your instrumentation")


def test_the_documented_attributes_and_instruments_are_the_recorded_ones() -> None:
    ns = _run("## Instrumenting a store", "## Testing your instrumentation")
    store, spans, reader = ns["store"], ns["spans"], ns["reader"]
    store.get("app/db")
    recorded = {key for span in spans.get_finished_spans() for key in (span.attributes or {})}
    data = reader.get_metrics_data()
    instruments = {m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics}
    spans_table = PAGE[PAGE.index("## Spans"):PAGE.index("## Metrics")]
    metrics_table = PAGE[PAGE.index("## Metrics"):PAGE.index("## Testing")]
    documented = set(re.findall(r"^\| `([a-z_.]+)` \|", spans_table, re.M))
    assert recorded <= documented
    assert documented - recorded <= {"helium_secrets.secret.name", "error.type"}
    assert set(re.findall(r"^\| `([a-z_.]+)` \|", metrics_table, re.M)) == instruments | {
        "helium_secrets.retries"}


def test_the_sdks_spans_during_a_backend_call_are_the_operations_children() -> None:
    ns = _run("## Instrumenting a store", "## Testing your instrumentation")
    store, spans = ns["store"], ns["spans"]
    sdk = ns["tracer_provider"].get_tracer("an.sdk")
    read = store.backend.get

    def traced_get(*args: Any, **kwargs: Any) -> Any:  # as botocore's instrumentation would
        with sdk.start_as_current_span("SecretsManager.GetSecretValue"):
            return read(*args, **kwargs)

    store.backend.get = traced_get
    spans.clear()
    store.refresh("app/db")
    by_name = {span.name: span for span in spans.get_finished_spans()}
    operation, client = by_name["helium_secrets.get"], by_name["SecretsManager.GetSecretValue"]
    assert client.parent is not None and client.parent.span_id == operation.context.span_id
    with pytest.raises(Exception, match="not found"):
        store.get("app/missing")
    (failed,) = [s for s in spans.get_finished_spans() if s.status.description == "not_found"]
    assert not failed.events  # no exception event, as the page says
