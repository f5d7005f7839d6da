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
