"""Drivers for I/O-free operations written as generators (the sans-I/O style), so that a
backend's logic is written once and its sync and async twins only perform the I/O.

An operation is a generator that yields a *step* (a request to make, described as data), is
sent the step's result, or has the step's exception thrown into it, and returns its answer.
A result goes to the operation without staying in a local of the driver (an error reporter
captures frames' locals, and a result may hold a secret value). :func:`drive` runs an
operation with a blocking ``perform``, :func:`adrive` with an awaitable one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import Any, TypeVar

__all__ = ["Steps", "adrive", "drive"]

S = TypeVar("S")
R = TypeVar("R")
#: An operation: yields steps of type S, is sent their results, returns R.
Steps = Generator[S, Any, R]


def drive(steps: Steps[S, R], perform: Callable[[S], Any]) -> R:
    """Run ``steps``, performing each step with ``perform`` (its errors go into the steps)."""
    try:
        step = next(steps)
        while True:
            try:
                box = [perform(step)]
            except Exception as exc:
                step = steps.throw(exc)
            else:
                step = steps.send(box.pop())
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]


async def adrive(steps: Steps[S, R], perform: Callable[[S], Awaitable[Any]]) -> R:
    """:func:`drive`, awaiting each step."""
    try:
        step = next(steps)
        while True:
            try:
                box = [await perform(step)]
            except Exception as exc:
                step = steps.throw(exc)
            else:
                step = steps.send(box.pop())
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
