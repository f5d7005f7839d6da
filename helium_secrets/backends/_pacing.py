"""At most a few CPU-heavy steps of an SDK's calls in one turn of the event loop.

An async SDK call that spends a millisecond or two of CPU in one step (botocore building and
signing a request, or parsing its answer) is harmless alone. Ten of them woken in the same turn
of the loop run back to back, and every other task waits tens of milliseconds behind them.
:class:`TurnGate` spreads such steps over turns: it lets a few through per turn and queues the
rest for the turns after, first come first served. That costs no throughput while the loop has
work: a turn of a few heavy steps is followed by the next turn at once, so the SDK's CPU is
spent as fast as before, only in shorter turns that the other tasks' steps interleave with.

:class:`TurnBudget` is the same bound for many cheap steps (a store starting its reads): a
caller within the turn's budget goes on at once, costing no turn of the loop.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["TurnBudget", "TurnGate"]


class TurnGate:
    """Lets at most ``per_turn`` callers of :meth:`enter` go on per turn of the running event
    loop, in the order they came; the others wait for the next turns.

    Every caller waits for a release, even with no one ahead: a release is a ``call_soon``
    callback, and asyncio runs in a turn only the callbacks that were ready when it began, so
    each release runs in a turn of its own and the callers it lets go run in the next one. A
    count kept any other way could not tell where one turn ends. An idle gate costs a caller
    two quick turns of the loop (microseconds), nothing beside an SDK call's milliseconds. A
    cancelled waiter gives up its place; one let go and then cancelled leaves its pass unused.
    """

    def __init__(self, per_turn: int) -> None:
        if per_turn < 1:
            raise ValueError(f"per_turn must be at least 1, not {per_turn}")
        self._per_turn = per_turn
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._release_due = False

    async def enter(self) -> None:
        """Return in the turn after the release that lets this caller go."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        if not self._release_due:
            self._release_due = True
            asyncio.get_running_loop().call_soon(self._release)
        await waiter

    def _release(self) -> None:
        passes = self._per_turn
        while passes and self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():  # a cancelled waiter's place goes to the next
                waiter.set_result(None)
                passes -= 1
        # While anyone waits, one release a turn: the next is scheduled from this one.
        self._release_due = bool(self._waiting)
        if self._release_due:
            asyncio.get_running_loop().call_soon(self._release)


class TurnBudget:
    """Lets ``per_turn`` callers of :meth:`enter` a turn go on at once (no wait, no turn of the
    loop), and queues the callers past that for the next turns, in the order they came.

    The budget is renewed by a ``call_soon`` callback scheduled when it is first spent, so it
    runs in the next turn; a turn that holds that renewal can let up to twice ``per_turn``
    through, never more. A cancelled waiter gives up its place.
    """

    def __init__(self, per_turn: int) -> None:
        if per_turn < 1:
            raise ValueError(f"per_turn must be at least 1, not {per_turn}")
        self._per_turn = per_turn
        self._left = per_turn
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._renewal_due = False

    async def enter(self) -> None:
        """Return at once within this turn's budget; otherwise in a later turn, in order."""
        if self._left and not self._waiting:  # no one queued ahead: first come first served
            self._left -= 1
            self._renew_soon()
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        self._renew_soon()
        await waiter

    def _renew_soon(self) -> None:
        if not self._renewal_due:
            self._renewal_due = True
            asyncio.get_running_loop().call_soon(self._renew)

    def _renew(self) -> None:
        self._renewal_due = False
        self._left = self._per_turn
        while self._left and self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():  # a cancelled waiter's place goes to the next
                waiter.set_result(None)
                self._left -= 1
        # The callers let go run in the next turn, on this budget: renew it after them.
        if self._left < self._per_turn or self._waiting:
            self._renew_soon()
