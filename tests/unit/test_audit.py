"""The logging hook: one line per audit event, and the event's fields on the record."""

from __future__ import annotations

import logging
import time

import pytest

from helium_secrets import AuditEvent, SecretStore, logging_hook
from helium_secrets.backends.memory import MemoryBackend


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


def test_a_failing_hook_is_logged_by_its_repr_and_error_type_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[AuditEvent] = []

    class Broken:
        def __repr__(self) -> str:
            return "<Broken hook>"

        def __call__(self, event: AuditEvent) -> None:
            raise ValueError(f"cannot ship {event.name}")

    before = time.time()
    with SecretStore(MemoryBackend(), audit=(Broken(), seen.append)) as store, \
            caplog.at_level(logging.WARNING, logger="helium_secrets"):
        store.put("app/db", "canary-audit-hook-0123")
    after = time.time()
    assert [record.getMessage() for record in caplog.records] == [
        "audit hook <Broken hook> failed: ValueError"]
    assert [event.operation for event in seen] == ["put"]
    assert before <= seen[0].timestamp <= after

