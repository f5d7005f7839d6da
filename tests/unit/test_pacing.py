"""The turn gate: a few heavy SDK steps per turn of the event loop, in order, none stranded."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from helium_secrets.backends._pacing import TurnBudget, TurnGate
from tests.loopturns import Turns


def test_callers_that_queue_go_on_per_turn_at_most_in_order() -> None:
    async def scenario() -> tuple[list[int], Counter[int]]:
        gate, turns = TurnGate(2), Turns()
        order: list[int] = []
        per_turn: Counter[int] = Counter()

        async def caller(i: int) -> None:
            await gate.enter()
            order.append(i)
            per_turn[turns.now] += 1

        await asyncio.gather(*(caller(i) for i in range(11)))
        turns.stop()
        return order, per_turn

    order, per_turn = asyncio.run(scenario())
    assert order == list(range(11))  # first come, first served
    assert sorted(per_turn.values()) == [1, 2, 2, 2, 2, 2]  # 11 callers, 2 a turn
    assert len(per_turn) == 6 and max(per_turn) - min(per_turn) == 5  # in 6 turns in a row


def test_a_caller_with_no_queue_goes_on_two_turns_later() -> None:
    async def scenario() -> int:
        gate, turns = TurnGate(1), Turns()
        before = turns.now
        await gate.enter()
        went_on = turns.now - before
        turns.stop()
        return went_on

    assert asyncio.run(scenario()) == 2  # the release's turn, then the caller's


def test_a_cancelled_waiter_gives_its_place_to_the_next() -> None:
    async def scenario() -> list[int]:
        gate = TurnGate(1)
        order: list[int] = []

        async def caller(i: int) -> None:
            await gate.enter()
            order.append(i)

        tasks = [asyncio.ensure_future(caller(i)) for i in range(4)]
        await asyncio.sleep(0)  # all four waiting at the gate
        tasks[1].cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        assert tasks[1].cancelled()
        return order

    assert asyncio.run(scenario()) == [0, 2, 3]


def test_the_gate_keeps_going_after_it_falls_idle() -> None:
    async def scenario() -> int:
        gate = TurnGate(1)
        for _ in range(3):  # each round queues behind the last, then the gate is idle again
            await asyncio.gather(*(gate.enter() for _ in range(3)))
            await asyncio.sleep(0)
        return 3

    assert asyncio.run(asyncio.wait_for(scenario(), timeout=10)) == 3


def test_a_gate_needs_at_least_one_pass_a_turn() -> None:
    with pytest.raises(ValueError, match="per_turn must be at least 1, not 0"):
        TurnGate(0)


# -- the budget: callers within a turn's budget go on at once -------------------------------


def test_a_budget_lets_callers_within_it_go_on_without_a_turn_and_queues_the_rest() -> None:
    async def scenario() -> tuple[list[int], Counter[int]]:
        budget, turns = TurnBudget(3), Turns()
        order: list[int] = []
        per_turn: Counter[int] = Counter()

        async def caller(i: int) -> None:
            await budget.enter()
            order.append(i)
            per_turn[turns.now] += 1

        await asyncio.gather(*(caller(i) for i in range(10)))
        turns.stop()
        return order, per_turn

    order, per_turn = asyncio.run(scenario())
    assert order == list(range(10))  # first come, first served
    assert max(per_turn.values()) <= 3 * 2  # a turn holding a renewal: twice the budget at most
    assert sum(per_turn.values()) == 10 and len(per_turn) >= 2  # the rest went on later


def test_an_idle_budget_costs_no_turn_of_the_loop() -> None:
    async def scenario() -> int:
        budget, turns = TurnBudget(1), Turns()
        before = turns.now
        await budget.enter()
        went_on = turns.now - before
        turns.stop()
        return went_on

    assert asyncio.run(scenario()) == 0


def test_a_budget_spent_in_one_turn_renews_in_the_next() -> None:
    async def scenario() -> list[int]:
        budget, turns = TurnBudget(2), Turns()
        seen = []
        for _ in range(3):  # the third caller of the turn waits for the renewal
            await budget.enter()
            seen.append(turns.now)
        for _ in range(3):  # idle again: the budget is whole
            await asyncio.sleep(0)
        before = turns.now
        await budget.enter()
        seen.append(turns.now - before)
        turns.stop()
        return seen

    first, second, third, idle = asyncio.run(scenario())
    assert first == second and third > second and idle == 0


def test_a_cancelled_budget_waiter_gives_its_place_to_the_next() -> None:
    async def scenario() -> list[int]:
        budget = TurnBudget(1)
        order: list[int] = []

        async def caller(i: int) -> None:
            await budget.enter()
            order.append(i)

        tasks = [asyncio.ensure_future(caller(i)) for i in range(4)]
        await asyncio.sleep(0)  # the first went on; three wait
        tasks[1].cancel()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), timeout=10)
        assert tasks[1].cancelled()
        return order

    assert asyncio.run(scenario()) == [0, 2, 3]


def test_a_budget_needs_at_least_one_pass_a_turn() -> None:
    with pytest.raises(ValueError, match="per_turn must be at least 1, not 0"):
        TurnBudget(0)
