"""Audit events: one structured record per store operation, never carrying a value.

A hook is any callable that takes an :class:`AuditEvent`. Hooks run synchronously on the
caller's thread, after the operation; a hook that raises is logged and ignored, so auditing can
never break the application. :func:`logging_hook` turns events into log records.

A :data:`CallContext` is entered around each operation that reaches the backend, its audit
event included, so that what the backend does meanwhile runs inside it (a tracing span that
the SDK's own spans become children of).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["AuditEvent", "AuditHook", "CallContext", "logging_hook"]

_log = logging.getLogger("helium_secrets.audit")


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """What happened in one store operation.

    :param timestamp: wall-clock time (seconds since the epoch) when the operation ended.
    :param backend: the backend's short name.
    :param operation: ``get``, ``put``, ``delete``, ``list``, ``versions``, ``get_many``,
        ``probe``, ``refresh``, ``set_label`` or ``rotation_callback``.
    :param name: the secret name (``None`` for ``list``; the prefix is in ``detail``).
    :param version: the version read or written, when known.
    :param outcome: ``"ok"`` or ``"error"``.
    :param error_code: the portable error code of a failure.
    :param latency_s: seconds the operation took, waits included.
    :param cache: ``"hit"``, ``"miss"``, ``"stale"``, ``"negative"``, ``"coalesced"``, or
        ``None`` when the cache was not involved.
    :param attempts: backend attempts made (0 when served from the cache).
    :param detail: a short extra note (the list prefix, the number of names in a batch, ...).
    """

    timestamp: float
    backend: str
    operation: str
    name: str | None
    version: str | None
    outcome: str
    error_code: str | None
    latency_s: float
    cache: str | None
    attempts: int
    detail: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """The event as a plain dict, for JSON logs and telemetry exporters."""
        return asdict(self)


AuditHook = Callable[[AuditEvent], None]
#: Called with ``(operation, name)`` before an operation reaches the backend; the context
#: manager it returns is entered around the call (retries included) and its audit event. On
#: the async twin it is held across awaits, so it must set context variables, never take a lock.
CallContext = Callable[[str, "str | None"], AbstractContextManager[object]]


def logging_hook(
    logger: logging.Logger | None = None, level: int = logging.INFO
) -> AuditHook:
    """Return a hook that logs every event on ``logger`` (default ``helium_secrets.audit``).

    Each record's message is a one-line summary, and the event's fields are attached as
    ``record.helium`` (a dict) for structured formatters.
    """
    target = logger or _log

    def hook(event: AuditEvent) -> None:
        if not target.isEnabledFor(level):
            return
        target.log(
            level,
            "%s %s name=%s version=%s outcome=%s%s cache=%s attempts=%d latency=%.1fms",
            event.backend,
            event.operation,
            event.name,
            event.version,
            event.outcome,
            f"({event.error_code})" if event.error_code else "",
            event.cache,
            event.attempts,
            event.latency_s * 1000,
            extra={"helium": event.as_dict()},
        )

    return hook
