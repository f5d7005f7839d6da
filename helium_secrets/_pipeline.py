# Generated from helium_secrets/_async/_pipeline.py by scripts/unasync.py: do not edit.
# Change the async source and run the script (CI checks that they agree).
"""The call pipeline: the one way anything reaches a backend.

closed check -> fail-fast guard -> retry (tenacity) -> the backend call -> error translation
(once, chained with ``from``) -> stats -> audit event. The portable operations, the backends'
extras and the rotation poller all go through :meth:`CallPipeline.call`; the read and write
paths decide *what* to call, this module decides *how*.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import TypeVar

from helium_secrets._synchronization import call_with_retry, resolve
from helium_secrets._stats import StatsRecorder
from helium_secrets.backends._base import Backend, Classified, RawSecret
from helium_secrets.errors import (
    ErrorCode,
    HeliumError,
    StoreClosedError,
    UnavailableError,
    error_for_code,
)
from helium_secrets.layers.audit import AuditEvent, AuditHook, CallContext
from helium_secrets.layers.guard import FailFastGuard
from helium_secrets.layers.retry import Clock, RetryPolicy
from helium_secrets.redaction import redactor

__all__ = ["CallPipeline", "copy_error"]

T = TypeVar("T")
_log = logging.getLogger("helium_secrets")
_MASK = "**********"


class CallPipeline:
    """Runs backend operations for one store: guard, retries, translation, stats and audit.

    :param closed: returns whether the store is closed (checked first, on every call).
    """

    def __init__(
        self,
        backend: Backend,
        *,
        guard: FailFastGuard,
        clock: Clock,
        stats: StatsRecorder,
        audit_hooks: list[AuditHook],
        call_contexts: list[CallContext],
        closed: Callable[[], bool],
    ) -> None:
        self.backend = backend
        self.backend_name: str = backend.name
        self.guard = guard
        self.clock = clock
        self.stats = stats
        #: The store's hooks, shared (adding a hook to the store adds it here).
        self.audit_hooks = audit_hooks
        #: The store's call contexts, shared too: entered around each call, its event included.
        self.call_contexts = call_contexts
        self._closed = closed

    # -- the pipeline ----------------------------------------------------------------------

    def check_open(self) -> None:
        """Raise :class:`StoreClosedError` once the store is closed."""
        if self._closed():
            raise StoreClosedError("the store is closed", backend=self.backend_name)

    def call(
        self,
        operation: str,
        name: str | None,
        fn: Callable[[], T],
        policy: RetryPolicy,
        *,
        cache: str | None = None,
        version: str | None = None,
        scrub: str | bytes | None = None,
        detail: str | None = None,
    ) -> T:
        """Run ``fn`` (one backend operation) through the whole pipeline and return its result.

        :param scrub: a value being written, removed from any error message that echoes it.
        :raises HeliumError: the translated failure, with the SDK's exception as ``__cause__``.
        """
        self.check_open()
        if not self.call_contexts:
            return self._call(operation, name, fn, policy, cache, version, scrub, detail)
        with ExitStack() as stack:
            for context in list(self.call_contexts):
                stack.enter_context(context(operation, name))
            return self._call(operation, name, fn, policy, cache, version, scrub, detail)

    def _call(
        self,
        operation: str,
        name: str | None,
        fn: Callable[[], T],
        policy: RetryPolicy,
        cache: str | None,
        version: str | None,
        scrub: str | bytes | None,
        detail: str | None,
    ) -> T:
        started = time.perf_counter()
        attempts = 0
        guard = self.guard
        stats = self.stats

        refused = False

        def attempt() -> T:
            nonlocal attempts, refused
            wait = guard.admit(self.clock.monotonic())
            if wait is not None:
                refused = True
                raise self._refused(wait, name)
            attempts += 1
            stats.backend_calls += 1
            try:
                result = fn() if not redactor.filters else _holding(fn, scrub)
            except HeliumError as exc:
                self.fill_context(exc, name, scrub, version)
                self._record(exc, policy)
                raise
            except Exception as exc:
                error = self.translate(exc, name, scrub, version)
                self._record(error, policy)
                raise error from exc
            except BaseException:
                # KeyboardInterrupt, a gevent timeout...: the backend's health is unknown, so
                # a trial call this was must not hold the guard half-open for good.
                guard.abandon_trial()
                raise
            guard.record_success()
            return result

        def retryable(exc: HeliumError) -> bool:
            # Once the guard is open, retrying only queues more refusals (or more load); but a
            # retry that waits out the service's hint (the retry layer's floor) ends when the
            # pause does, and is let through as the trial.
            if not exc.transient or refused:
                return False
            if not guard.is_open:
                return True
            hint = exc.retry_after if policy.respect_retry_after else None
            return hint is not None and guard.reopens_by(self.clock.monotonic() + hint)

        def on_retry(exc: HeliumError, delay: float) -> None:
            stats.retries += 1

        try:
            result = call_with_retry(attempt, policy, self.clock, retryable=retryable,
                                     on_retry=on_retry)
        except HeliumError as exc:
            stats.errors += 1
            self.emit(operation, name, version, exc.code, time.perf_counter() - started,
                      cache, attempts, detail)
            raise
        if self.audit_hooks:
            got = getattr(result, "version", version)
            self.emit(operation, name, got if isinstance(got, str) else version, None,
                      time.perf_counter() - started, cache, attempts, detail)
        return result

    def _record(self, error: HeliumError, policy: RetryPolicy) -> None:
        # A transient failure counts towards the guard per attempt, so a dead backend sees at
        # most the guard's threshold of attempts per cool-down, not threshold x retries; a
        # service's hint pauses every call of the store, not only this one's retries.
        if not error.transient:
            self.guard.record_success()  # the backend answered
            return
        hint = error.retry_after if policy.respect_retry_after else None
        if self.guard.record_failure(self.clock.monotonic(), hint):
            _log.warning("%s asked for a pause of %.0fs (Retry-After); calls are paused for "
                         "GuardPolicy.max_retry_after, %.0fs", self.backend_name, hint,
                         self.guard.policy.max_retry_after)

    def _refused(self, wait: float, name: str | None) -> UnavailableError:
        why = "as the service asked (Retry-After)" if self.guard.hinted else (
            "after repeated failures")
        pause = (f"paused for {wait:.1f}s" if wait > 0
                 else "paused while a trial call checks whether it is back")
        return UnavailableError(f"calls to the backend are {pause} {why}",
                                backend=self.backend_name, name=name,
                                retry_after=wait if wait > 0 else None)

    # -- errors ----------------------------------------------------------------------------

    def translate(
        self,
        exc: BaseException,
        name: str | None,
        scrub: str | bytes | None = None,
        version: str | None = None,
    ) -> HeliumError:
        """The helium error for a backend's exception (classified by the backend, once; an
        async backend's ``classify`` may be a coroutine function too)."""
        if isinstance(exc, HeliumError):
            self.fill_context(exc, name, scrub, version)
            return exc
        try:
            verdict = resolve(self.backend.classify(exc))
        except Exception:  # a classifier bug must not hide the original error
            verdict = None
        if verdict is None:
            verdict = Classified(ErrorCode.UNKNOWN, f"unexpected {type(exc).__name__}")
        message = verdict.message or verdict.code.value.replace("_", " ")
        return error_for_code(verdict.code)(
            _scrubbed(message, scrub),
            backend=self.backend_name,
            name=name,
            version=version,
            transient=verdict.transient,
            retry_after=verdict.retry_after,
        )

    def fill_context(
        self,
        exc: HeliumError,
        name: str | None,
        scrub: str | bytes | None = None,
        version: str | None = None,
    ) -> None:
        """Give an error raised by a backend itself the store's context."""
        if exc.backend is None:
            exc.backend = self.backend_name
        if exc.name is None:
            exc.name = name
        if exc.version is None:
            exc.version = version
        exc.message = _scrubbed(exc.message, scrub)
        exc.args = (exc.message,)

    # -- audit -----------------------------------------------------------------------------

    def emit(
        self,
        operation: str,
        name: str | None,
        version: str | None,
        error_code: ErrorCode | None,
        latency: float,
        cache: str | None,
        attempts: int,
        detail: str | None = None,
    ) -> None:
        """Send one audit event to every hook (never with a value; a failing hook is logged)."""
        if not self.audit_hooks:
            return
        event = AuditEvent(
            timestamp=time.time(),
            backend=self.backend_name,
            operation=operation,
            name=name,
            version=version,
            outcome="ok" if error_code is None else "error",
            error_code=error_code.value if error_code is not None else None,
            latency_s=latency,
            cache=cache,
            attempts=attempts,
            detail=detail,
        )
        for hook in list(self.audit_hooks):
            try:
                hook(event)
            except Exception as exc:  # auditing never breaks the application
                _log.warning("audit hook %r failed: %s", hook, type(exc).__name__)


def _holding(fn: Callable[[], T], scrub: str | bytes | None) -> T:
    """Run ``fn`` with this task's (or thread's) log records held until the values it wrote and read are
    known to the redactor (an SDK logs a response body before we see the value in it)."""
    with redactor.holding() as held:
        held.add(scrub)
        result = fn()
        if isinstance(result, RawSecret):
            held.add(result.value)
        elif isinstance(result, dict):
            for answer in result.values():
                if isinstance(answer, RawSecret):
                    held.add(answer.value)
        return result


def _scrubbed(message: str, secret: str | bytes | None) -> str:
    """Remove a value we were writing from a message, should a service have echoed it."""
    if not secret:
        return message
    text = secret if isinstance(secret, str) else secret.decode("utf-8", "replace")
    if len(text) >= 4 and text in message:
        return message.replace(text, _MASK)
    return message


def copy_error(exc: HeliumError) -> HeliumError:
    """A fresh instance for each coalesced waiter: one exception raised in many threads
    would collect all their tracebacks."""
    return type(exc)(
        exc.message,
        backend=exc.backend,
        name=exc.name,
        version=exc.version,
        transient=exc.transient,
        retry_after=exc.retry_after,
    )
