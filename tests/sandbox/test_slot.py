"""A run's slot, as its worker thread sees it: how long it has held it, and who else wants one."""

from __future__ import annotations

import asyncio
import time

from host.protect import FairGate
from host.sandbox._slot import GateSlot


async def test_a_held_slot_counts_its_time_and_a_paused_one_none() -> None:
    gate = FairGate(slots=2, capacity=4)
    await gate.acquire("a")
    slot = GateSlot(gate, "a", asyncio.get_running_loop())
    now = time.monotonic()
    assert slot.held_ms(now + 0.25) >= 250
    slot.pause()
    assert slot.held_ms(now + 0.25) == 0.0
    slot.resume()
    assert 0 <= slot.held_ms(time.monotonic()) < 250


async def test_a_run_alone_is_not_contended_and_one_beside_another_is() -> None:
    gate = FairGate(slots=1, capacity=4)
    await gate.acquire("a")
    slot = GateSlot(gate, "a", asyncio.get_running_loop())
    assert not slot.contended()
    waiting = asyncio.create_task(gate.acquire("b"))
    await asyncio.sleep(0)
    assert slot.contended()
    waiting.cancel()
    await asyncio.sleep(0)
    assert not slot.contended()
    gate.pause("a", 1)
    await gate.acquire("b")
    gate.resume("a")
    assert slot.contended()
