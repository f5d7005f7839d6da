"""At most a few CPU-heavy steps of an SDK's calls in one turn of the event loop.

An async SDK call that spends a millisecond or two of CPU in one step (botocore building and
signing a request, or parsing its answer) is harmless alone. Ten of them woken in the same turn
of the loop run back to back, and every other task waits tens of milliseconds behind them.
:class:`TurnGate` spreads such steps over turns: it lets a few through per turn and queues the
rest for the turns after, first come first served. That costs no throughput while the loop has
work: a turn of a few heavy steps is followed by the next turn at once, so the SDK's CPU is
spent as fast as before, only in shorter turns that the other tasks' steps interleave with.
"""

from __future__ import annotations

import asyncio
from collections import deque

__all__ = ["TurnGate"]


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
