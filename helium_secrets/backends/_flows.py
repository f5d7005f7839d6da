"""Backend operations written once for a sync and an async SDK client (sans-I/O).

An operation that needs the service is a generator (a *flow*): it builds each request, yields
it as a :class:`Call`, and is sent the SDK's answer (or has the SDK's exception thrown into it
at that ``yield``), until it returns the operation's result. Everything between the calls
(validation, parsing, deciding what to ask next, fallbacks) lives in the flow, once. A sync
backend runs a flow with :func:`run` over its client, an async one with :func:`arun` over its
``async`` client, whose methods have the same names and arguments; a flow calls another with
``yield from``.

This module imports no SDK and no asyncio-only dependency.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, TypeVar

__all__ = ["Call", "Flow", "arun", "run"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Call:
    """One SDK call: ``client.<method>(**kwargs)``.

    :param collect: the answer is a pager; the flow is sent the list of its items.
    """

    method: str
    kwargs: dict[str, Any] = field(repr=False)
    collect: bool = False


#: A backend operation: yields calls, is sent their answers, returns ``T``.
Flow = Generator[Call, Any, T]


def run(flow: Flow[T], client: Any) -> T:
    """Run ``flow`` against the sync ``client``."""
    try:
        call = next(flow)
        while True:
            try:
                # In a box, not a local: an answer can hold a value, and an error the flow
                # raises next must not find it in this frame (error reporters capture locals).
                box = [getattr(client, call.method)(**call.kwargs)]
                if call.collect:
                    box = [list(box.pop())]
            except Exception as exc:  # the flow decides what the SDK's error means
                call = flow.throw(exc)
            else:
                call = flow.send(box.pop())
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()  # a flow left at a yield (an error, an interrupt) ends now


async def arun(flow: Flow[T], client: Any) -> T:
    """Run ``flow`` against the async ``client`` (its methods return awaitables). A cancelled
    call is not thrown into the flow: the flow is closed (its ``finally`` blocks run) and the
    cancellation goes on."""
    try:
        call = next(flow)
        while True:
            try:
                box = [await getattr(client, call.method)(**call.kwargs)]  # see run()
                if call.collect:
                    box = [[item async for item in box.pop()]]
            except Exception as exc:  # the flow decides what the SDK's error means
                call = flow.throw(exc)
            else:
                call = flow.send(box.pop())
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    finally:
        flow.close()
