"""A count of the event loop's turns, for tests of what runs in one turn."""

from __future__ import annotations

import asyncio


class Turns:
    """Counts the running loop's turns from now until :meth:`stop`: a callback that schedules
    itself again runs once per turn (asyncio runs, in a turn, only the callbacks that were
    ready when it began)."""

    def __init__(self) -> None:
        self.now = 0
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        self.now += 1
        self._handle = self._loop.call_soon(self._tick)

    def stop(self) -> None:
        self._handle.cancel()
