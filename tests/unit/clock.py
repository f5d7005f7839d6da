"""Test doubles for time and latency: a manual clock, and a fake backend whose calls the test
holds, times and breaks on purpose.

Nothing here sleeps for real: time moves only when a test (or a retry wait) moves it, and a
"slow" backend call is one held at a gate until the test releases it.
"""

from __future__ import annotations

import collections
import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future
from typing import Any

from helium_secrets._values import VersionInfo
from helium_secrets.backends._base import Classified, RawSecret
from helium_secrets.backends.memory import InjectedFault, MemoryBackend
from helium_secrets.errors import ErrorCode
from helium_secrets.testing import ManualClock

__all__ = [
    "TIMEOUT",
    "ControlledBackend",
    "Hold",
    "ManualClock",
    "QueuedExecutor",
    "canary",
    "wait_until",
]

#: Seconds a test waits for another thread before failing: generous, for a slow 2-core box.
TIMEOUT = 60.0


@dataclasses.dataclass
class Hold:
    """A backend call held at a gate: ``entered`` is set when the call arrives, and the call
    waits until :meth:`release`."""

    entered: threading.Event = dataclasses.field(default_factory=threading.Event)
    released: threading.Event = dataclasses.field(default_factory=threading.Event)

    def wait_entered(self) -> None:
        assert self.entered.wait(TIMEOUT), "the backend call never arrived"

    def release(self) -> None:
        self.released.set()


class ControlledBackend(MemoryBackend):
    """The memory fake, plus what the layer tests need to steer it.

    * :meth:`hold` makes the next ``get`` of a name wait at a gate (after reading the value when
      ``read_first``, so that it returns what was current when it arrived);
    * ``cost`` seconds of the manual ``clock`` pass in every ``get`` and ``put``: an attempt
      that takes time, without real sleeping;
    * :attr:`lost_answers` makes the next writes happen and then fail with a transient error,
      as if the answer was lost on the way back;
    * :attr:`reads` counts ``get`` calls per name, :attr:`started` records when each call began.

    :param idempotent_put: ``False`` makes a backend without idempotency tokens: it declares so
        in its capabilities and ignores ``request_token``.
    """

    def __init__(
        self,
        clock: ManualClock | None = None,
        *,
        cost: float = 0.0,
        idempotent_put: bool = True,
    ) -> None:
        super().__init__()
        if not idempotent_put:
            self.capabilities = dataclasses.replace(self.capabilities, idempotent_put=False)
        self._manual_clock = clock
        self.cost = cost
        self._holds: dict[str, collections.deque[tuple[Hold, bool]]] = {}
        self._holds_lock = threading.Lock()
        self.reads: collections.Counter[str] = collections.Counter()
        #: ``(operation, clock reading)`` at the start of every get and put.
        self.started: list[tuple[str, float]] = []
        #: Writes (puts and deletes) still to perform and then report as failed.
        self.lost_answers = 0

    def hold(self, name: str, *, read_first: bool = False) -> Hold:
        """Hold the next ``get`` of ``name`` until the returned :class:`Hold` is released."""
        hold = Hold()
        with self._holds_lock:
            self._holds.setdefault(name, collections.deque()).append((hold, read_first))
        return hold

    def _next_hold(self, name: str) -> tuple[Hold, bool] | None:
        with self._holds_lock:
            queue = self._holds.get(name)
            return queue.popleft() if queue else None

    def _spend(self, operation: str) -> None:
        if self._manual_clock is not None:
            self.started.append((operation, self._manual_clock.monotonic()))
            self._manual_clock.advance(self.cost)

    def get(self, name: str, version: str | None = None, label: str | None = None) -> RawSecret:
        self.reads[name] += 1
        self._spend("get")
        held = self._next_hold(name)
        if held is None:
            return super().get(name, version, label)
        hold, read_first = held
        raw: RawSecret | None = None
        error: Exception | None = None
        if read_first:  # the answer is decided now, delivered after the release
            try:
                raw = super().get(name, version, label)
            except Exception as exc:
                error = exc
        hold.entered.set()
        assert hold.released.wait(TIMEOUT), "the test never released the held call"
        if error is not None:
            raise error
        return raw if raw is not None else super().get(name, version, label)

    def put(
        self,
        name: str,
        value: str | bytes,
        *,
        expected_version: str | None = None,
        create_only: bool = False,
        request_token: str | None = None,
        metadata: Mapping[str, str] | None = None,
        labels: Sequence[str] = (),
    ) -> VersionInfo:
        self._spend("put")
        if not self.capabilities.idempotent_put:
            request_token = None  # a service without idempotency tokens
        info = super().put(
            name, value, expected_version=expected_version, create_only=create_only,
            request_token=request_token, metadata=metadata, labels=labels,
        )
        self._lose_answer()
        return info

    def delete(self, name: str, *, purge: bool = False) -> None:
        super().delete(name, purge=purge)
        self._lose_answer()

    def _lose_answer(self) -> None:
        if self.lost_answers > 0:
            self.lost_answers -= 1
            raise InjectedFault(Classified(ErrorCode.UNAVAILABLE))

    def current_value(self, name: str) -> str | bytes:
        """The current value of ``name`` (not counted as a backend call)."""
        raw = MemoryBackend.get(self, name)
        self.calls["get"] -= 1
        return raw.value

    def version_count(self, name: str) -> int:
        """How many versions ``name`` has (not counted as a backend call)."""
        count = len(self.list_versions(name))
        self.calls["versions"] -= 1
        return count


class QueuedExecutor(Executor):
    """An executor for ``SecretStore(executor=...)`` that keeps the store's background jobs
    (refresh-ahead, confirming reads, stale-wait fetches) until the test runs them, in its own
    thread: what a job does is seen after :meth:`run_all`, and nothing runs behind the test."""

    def __init__(self) -> None:
        self.queued: collections.deque[tuple[Callable[[], Any], Future[Any]]] = (
            collections.deque())

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self.queued.append((lambda: fn(*args, **kwargs), future))
        return future

    def run_all(self) -> int:
        """Run the queued jobs in order (with any they queue), as a pool's worker would: an
        exception is kept in the job's future. Returns how many ran."""
        ran = 0
        while self.queued:
            job, future = self.queued.popleft()
            ran += 1
            try:
                future.set_result(job())
            except Exception as exc:
                future.set_exception(exc)
        return ran


def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Wait for a condition no event announces (a counter other threads bump)."""
    event = threading.Event()
    deadline_polls = int(TIMEOUT / 0.005)
    for _ in range(deadline_polls):
        if predicate():
            return
        event.wait(0.005)
    raise AssertionError(f"timed out waiting until {what}")


def canary(label: str = "") -> str:
    """A recognisable value that must never appear in error text."""
    return f"CANARY-{label}-7f3a9c1e-never-in-errors"

