"""docs/integrations/logging.md: the records look as documented, and carry no value."""

from __future__ import annotations

import io
import json
import logging
import re
from typing import Any

import pytest

from tests.docs.pages import CANARY, ROOT, close_stores, python_block

PAGE = (ROOT / "docs" / "integrations" / "logging.md").read_text(encoding="utf-8")


def test_one_record_per_operation_as_documented(caplog: pytest.LogCaptureFixture) -> None:
    namespace: dict[str, Any] = {}
    with caplog.at_level(logging.INFO, logger="myapp.secrets"):
        exec(compile(python_block(PAGE, "## One record per operation"), "app.py", "exec"),  # noqa: S102
             namespace)
    shown = re.search(r"```text\n(.*?)```", PAGE, re.S)
    assert shown is not None
    got = [f"{r.levelname}:{r.name}:{r.getMessage()}" for r in caplog.records
           if r.name == "myapp.secrets"]
    latency = re.compile(r"latency=[0-9.]+ms")
    assert [latency.sub("latency=*", line) for line in got] == [
        latency.sub("latency=*", line) for line in shown.group(1).splitlines()]
    assert "hunter2" not in caplog.text
    close_stores(namespace)


def test_structured_records_carry_the_events_fields_and_no_value(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="myapp.secrets")  # basicConfig is a no-op under pytest
    namespace: dict[str, Any] = {}
    exec(compile(python_block(PAGE, "## One record per operation"), "app.py", "exec"), namespace)  # noqa: S102
    exec(compile(python_block(PAGE, "## Structured logs"), "log.py", "exec"), namespace)  # noqa: S102
    out = io.StringIO()
    handler = namespace["handler"]
    handler.setStream(out)
    namespace["store"].put("app/other", CANARY)
    logging.getLogger("myapp.secrets").removeHandler(handler)
    record = json.loads(out.getvalue().splitlines()[-1])
    assert record["operation"] == "put" and record["name"] == "app/other"
    assert {"timestamp", "backend", "version", "outcome", "error_code", "latency_s", "cache",
            "attempts", "detail"} <= set(record)
    assert CANARY not in out.getvalue()
    close_stores(namespace)
