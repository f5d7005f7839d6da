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

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

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
    with _Steps(flow) as steps:
        call = steps.first()
        while call is not None:
            try:
                # Kept in no local: an answer can hold a value, and an error the flow raises
                # next must not find it in this frame (error reporters capture locals).
                steps.answer = getattr(client, call.method)(**call.kwargs)
                if call.collect:
                    steps.answer = list(steps.answer)
            except Exception as exc:  # the flow decides what the SDK's error means
                call = steps.throw(exc)
            else:
                call = steps.send()
        return steps.result


async def arun(flow: Flow[T], client: Any) -> T:
    """Run ``flow`` against the async ``client`` (its methods return awaitables). A cancelled
    call is not thrown into the flow: the flow is closed (its ``finally`` blocks run) and the
    cancellation goes on."""
    with _Steps(flow) as steps:
        call = steps.first()
        while call is not None:
            try:
                steps.answer = await getattr(client, call.method)(**call.kwargs)  # see run()
                if call.collect:
                    steps.answer = [item async for item in steps.answer]
            except Exception as exc:  # the flow decides what the SDK's error means
                call = steps.throw(exc)
            else:
                call = steps.send()
        return steps.result


class _Steps(Generic[T]):
    """A flow's progress: the next call it asks for (``None`` once it returned its result),
    and the answer to send it (handed over without staying in a local or here)."""

    answer: Any = None

    def __init__(self, flow: Flow[T]) -> None:
        self._flow = flow
        self.result: T

    def __enter__(self) -> _Steps[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.answer = None
        self._flow.close()  # a flow left at a yield (an error, a cancellation) ends now

    def first(self) -> Call | None:
        return self._advance(lambda: next(self._flow))

    def send(self) -> Call | None:
        return self._advance(lambda: self._flow.send(self._take()))

    def throw(self, exc: Exception) -> Call | None:
        self.answer = None
        return self._advance(lambda: self._flow.throw(exc))

    def _take(self) -> Any:
        answer, self.answer = self.answer, None
        return answer

    def _advance(self, step: Callable[[], Call]) -> Call | None:
        try:
            return step()
        except StopIteration as stop:
            self.result = stop.value
            return None
