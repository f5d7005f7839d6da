"""The flow driver shared by the sync and async backends (``backends/_flows.py``), on plain
objects standing in for a client: what a flow is sent, what is thrown into it, and that a
cancelled async call closes it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from helium_secrets.backends._flows import Call, Flow, arun, run


class Client:
    def echo(self, value: Any) -> Any:
        return value

    def fail(self) -> Any:
        raise KeyError("from the client")

    def pages(self) -> Any:
        return iter([1, 2, 3])


class AsyncClient:
    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def echo(self, value: Any) -> Any:
        return value

    async def fail(self) -> Any:
        raise KeyError("from the client")

    async def pages(self) -> AsyncIterator[int]:
        async def items() -> AsyncIterator[int]:
            for item in (1, 2, 3):
                yield item

        return items()

    async def hang(self) -> Any:
        await self.release.wait()


def flow(log: list[str]) -> Flow[tuple[Any, ...]]:
    try:
        first = yield Call("echo", {"value": "a"})
        try:
            yield Call("fail", {})
        except KeyError:
            caught = "caught"
        items = yield Call("pages", {}, collect=True)
        return first, caught, items
    finally:
        log.append("closed")


def test_the_same_flow_gives_the_same_result_on_both_clients() -> None:
    sync_log: list[str] = []
    async_log: list[str] = []
    assert run(flow(sync_log), Client()) == ("a", "caught", [1, 2, 3])
    assert asyncio.run(arun(flow(async_log), AsyncClient())) == ("a", "caught", [1, 2, 3])
    assert sync_log == async_log == ["closed"]


def test_an_error_the_flow_does_not_catch_is_raised_to_the_caller() -> None:
    def failing() -> Flow[None]:
        yield Call("fail", {})

    with pytest.raises(KeyError, match="from the client"):
        run(failing(), Client())
    with pytest.raises(KeyError, match="from the client"):
        asyncio.run(arun(failing(), AsyncClient()))


def test_a_cancelled_call_closes_the_flow_and_is_not_thrown_into_it() -> None:
    log: list[str] = []

    def hanging() -> Flow[None]:
        try:
            yield Call("hang", {})
        except asyncio.CancelledError:  # pragma: no cover - must not happen
            log.append("thrown in")
        finally:
            log.append("closed")

    async def main() -> None:
        task = asyncio.create_task(arun(hanging(), AsyncClient()))
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert log == ["closed"]


def test_an_answer_is_in_no_local_of_the_driver_when_the_flow_raises() -> None:
    # Error reporters capture each frame's locals: the driver's must not hold the answer.
    canary = "canary-value-in-the-answer"

    def refusing() -> Flow[None]:
        answer = yield Call("echo", {"value": canary})
        del answer
        raise ValueError("refused")

    async def main() -> None:
        await arun(refusing(), AsyncClient())

    def sync() -> None:
        run(refusing(), Client())

    for attempt in (sync, lambda: asyncio.run(main())):
        with pytest.raises(ValueError, match="refused") as info:
            attempt()
        driver = [tb.tb_frame for tb in _frames(info.value.__traceback__)
                  if tb.tb_frame.f_code.co_name in ("run", "arun")]
        assert driver
        for frame in driver:
            assert canary not in repr(frame.f_locals)


def _frames(tb: Any) -> list[Any]:
    out = []
    while tb is not None:
        out.append(tb)
        tb = tb.tb_next
    return out
