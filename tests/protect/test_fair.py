from __future__ import annotations

import asyncio
import time

import pytest

from host.protect import FairGate, Withdrawn


async def test_a_light_endpoint_overtakes_a_heavy_one_in_the_queue() -> None:
    gate = FairGate(slots=1)
    order: list[str] = []

    async def run(key: str, cost_ms: float) -> None:
        await gate.acquire(key)
        order.append(key)
        await asyncio.sleep(0)
        gate.release(key, cost_ms)

    await gate.acquire("heavy")
    assert gate.oldest_wait_ms("heavy", time.monotonic()) == 0.0
    waiting = [asyncio.create_task(run("heavy", 500)) for _ in range(3)]
    waiting += [asyncio.create_task(run("light", 5)) for _ in range(3)]
    await asyncio.sleep(0)
    assert gate.waiting == 6
    assert gate.oldest_wait_ms("light", time.monotonic() + 1) >= 1000
    gate.release("heavy", 500)
    await asyncio.gather(*waiting)
    assert order == ["light", "light", "light", "heavy", "heavy", "heavy"]
    assert (gate.running, gate.waiting) == (0, 0)


async def test_slots_bound_how_many_run_at_once() -> None:
    gate = FairGate(slots=2)
    await gate.acquire("a")
    await gate.acquire("b")
    third = asyncio.create_task(gate.acquire("c"))
    await asyncio.sleep(0)
    assert not third.done()
    gate.release("a", 1)
    await third
    assert gate.running == 2


async def test_one_endpoint_holds_at_most_half_the_slots() -> None:
    gate = FairGate(slots=4)
    await gate.acquire("greedy")
    gate.release("greedy", 1)
    await gate.acquire("greedy")
    await gate.acquire("greedy")
    third = asyncio.create_task(gate.acquire("greedy"))
    await asyncio.sleep(0)
    assert not third.done()
    await gate.acquire("other")
    gate.release("greedy", 1)
    await third
    assert gate.running == 3


async def test_an_endpoint_holds_one_slot_until_one_of_its_runs_has_ended() -> None:
    gate = FairGate(slots=4)
    await gate.acquire("new")
    second = asyncio.create_task(gate.acquire("new"))
    await asyncio.sleep(0)
    assert not second.done()
    # Its neighbours still find the free slots.
    await gate.acquire("other")
    gate.release("new", 2000)
    await second
    third = asyncio.create_task(gate.acquire("new"))
    await asyncio.sleep(0)
    assert third.done()
    assert gate.running == 3


async def test_a_cancelled_waiter_gives_its_place_back() -> None:
    gate = FairGate(slots=1)
    await gate.acquire("a")
    cancelled = asyncio.create_task(gate.acquire("b"))
    patient = asyncio.create_task(gate.acquire("c"))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    gate.release("a", 1)
    await patient
    assert (gate.running, gate.waiting) == (1, 0)


async def test_a_paused_run_gives_its_slot_to_the_next() -> None:
    gate = FairGate(slots=1, capacity=4)
    await gate.acquire("waits")
    queued = asyncio.create_task(gate.acquire("computes"))
    await asyncio.sleep(0)
    assert not queued.done()
    gate.pause("waits", 1)
    await queued
    assert (gate.running, gate.alive, gate.paused) == (1, 2, 1)


async def test_a_resuming_run_takes_a_slot_at_once_and_new_runs_wait_for_one() -> None:
    gate = FairGate(slots=1, capacity=4)
    await gate.acquire("a")
    gate.pause("a", 1)
    await gate.acquire("b")
    gate.resume("a")
    # Two run on one slot until one of them ends; a new run waits meanwhile.
    new = asyncio.create_task(gate.acquire("c"))
    await asyncio.sleep(0)
    assert (gate.running, new.done()) == (2, False)
    gate.release("b", 1)
    await asyncio.sleep(0)
    assert not new.done()
    gate.release("a", 1)
    await new
    assert (gate.running, gate.alive) == (1, 1)


async def test_capacity_bounds_the_runs_alive_paused_included() -> None:
    gate = FairGate(slots=1, capacity=2)
    for key in ("a", "b"):
        await gate.acquire(key)
        gate.pause(key, 1)
    third = asyncio.create_task(gate.acquire("c"))
    await asyncio.sleep(0)
    # A slot is free, but two runs are alive: the third waits for one to end.
    assert (gate.running, gate.alive, third.done()) == (0, 2, False)
    gate.leave("a")
    await third
    assert (gate.running, gate.alive, gate.paused) == (1, 2, 1)


async def gate_that_knows(turns_ms: dict[str, float]) -> FairGate:
    """Four slots, long turns over 100 ms, and one turn of each endpoint ended at its cost."""
    gate = FairGate(slots=4, long_turn_ms=100)
    for key, cost_ms in turns_ms.items():
        await gate.acquire(key)
        gate.release(key, cost_ms)
    return gate


async def test_endpoints_with_long_turns_share_half_the_slots() -> None:
    gate = await gate_that_knows({"slow": 500, "slower": 500})
    for key in ("slow", "slower"):
        await gate.acquire(key)
    # Each may hold half the slots, but together they hold no more.
    third_long = asyncio.create_task(gate.acquire("slow"))
    await asyncio.sleep(0)
    assert not third_long.done()
    await gate.acquire("quick")
    await gate.acquire("new")
    assert (gate.running, gate.waiting) == (4, 1)
    gate.release("quick", 5)
    await asyncio.sleep(0)
    assert not third_long.done()
    gate.release("slower", 500)
    await third_long
    assert gate.running == 3


async def test_turns_still_running_count_as_long_once_their_endpoint_turns_long() -> None:
    gate = await gate_that_knows({"shifty": 5, "slow": 500})
    await gate.acquire("shifty")
    await gate.acquire("shifty")
    # Its typical turn passes 100 ms: the turn it still runs is a long one now.
    gate.release("shifty", 1000)
    await gate.acquire("slow")
    second_slow = asyncio.create_task(gate.acquire("slow"))
    await asyncio.sleep(0)
    assert (gate.running, second_slow.done()) == (2, False)
    gate.release("shifty", 1000)
    await second_slow
    assert gate.running == 2


async def test_turns_still_running_stop_counting_as_long_once_their_endpoint_turns_short() -> None:
    gate = await gate_that_knows({"shifty": 110, "slow": 500})
    await gate.acquire("shifty")
    await gate.acquire("shifty")
    # Its typical turn drops to 77 ms: the turn it still runs is a short one now.
    gate.release("shifty", 0)
    gate.release("shifty", 0)
    await gate.acquire("slow")
    second_slow = asyncio.create_task(gate.acquire("slow"))
    await asyncio.sleep(0)
    assert (gate.running, second_slow.done()) == (2, True)


async def test_a_withdrawn_endpoints_waiters_are_refused_and_others_keep_their_place() -> None:
    gate = FairGate(slots=1)
    await gate.acquire("running")
    tripped = [asyncio.create_task(gate.acquire("tripped")) for _ in range(3)]
    other = asyncio.create_task(gate.acquire("other"))
    await asyncio.sleep(0)
    assert gate.withdraw("tripped") == 3
    assert gate.waiting == 1
    for waiter in tripped:
        with pytest.raises(Withdrawn):
            await waiter
    gate.release("running", 1)
    await other
    assert (gate.running, gate.waiting, gate.withdraw("tripped")) == (1, 0, 0)


async def test_a_request_granted_a_slot_but_not_yet_started_is_withdrawn_too() -> None:
    gate = FairGate(slots=1)
    await gate.acquire("tripped")
    next_run = asyncio.create_task(gate.acquire("tripped"))
    await asyncio.sleep(0)
    # The run that trips the breaker hands its slot over before its outcome is counted.
    gate.release("tripped", 1)
    assert gate.withdraw("tripped") == 1
    with pytest.raises(Withdrawn):
        await next_run
    assert (gate.running, gate.alive, gate.waiting) == (0, 0, 0)
