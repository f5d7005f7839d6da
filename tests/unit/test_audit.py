"""The logging hook: one line per audit event, and the event's fields on the record."""

from __future__ import annotations

import logging

import pytest

from helium_secrets import AuditEvent, logging_hook


def event(**changes: object) -> AuditEvent:
    fields: dict[str, object] = dict(
        timestamp=1.0, backend="memory", operation="get", name="app/db", version="3",
        outcome="ok", error_code=None, latency_s=1.25, cache="miss", attempts=1, detail=None,
    )
    fields.update(changes)
    return AuditEvent(**fields)  # type: ignore[arg-type]


def test_each_event_is_one_line_with_its_fields_attached(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.audit")
    hook = logging_hook(logger, level=logging.WARNING)
    with caplog.at_level(logging.WARNING, logger="tests.audit"):
        hook(event())
        hook(event(outcome="error", error_code="unavailable", cache=None, version=None))
    ok, failed = caplog.records
    assert ok.getMessage() == ("memory get name=app/db version=3 outcome=ok cache=miss attempts=1 "
                               "latency=1250.0ms")
    assert failed.getMessage() == ("memory get name=app/db version=None outcome=error(unavailable) "
                                   "cache=None attempts=1 latency=1250.0ms")
    assert ok.levelno == logging.WARNING
    assert ok.helium == event().as_dict()  # type: ignore[attr-defined]


def test_nothing_is_formatted_below_the_level(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.audit.quiet")
    with caplog.at_level(logging.WARNING, logger="tests.audit.quiet"):
        logging_hook(logger)(event())  # INFO by default
    assert caplog.records == []
