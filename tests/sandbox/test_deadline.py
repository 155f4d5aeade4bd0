"""The wall-clock deadline stops a guest; a long turn yields the CPU while others want it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from host.failures import FailureClass
from host.limits import Limits
from host.sandbox import CompiledModule, RunResult, Sandbox, SandboxEngine, ScriptRequest
from tests.support.components import handle_component
from tests.support.runs import request_context

# Counts for ever: stopped by its fuel (~11 G a second here) or its deadline.
SPIN = handle_component(
    locals_="(local $n i32)",
    body="(loop $spin (local.set $n (i32.add (local.get $n) (i32.const 1))) (br $spin))"
    " unreachable",
)
QUICK = handle_component(body="")
# Several hundred milliseconds of work, well inside the deadline.
WORK = Limits(timeout_ms=20_000, fuel=4 * 10**9)


@dataclass
class Slot:
    """A CPU slot held since the run began, with neighbours wanting the CPU or not."""

    neighbours: bool
    taken_at: float = field(default_factory=time.monotonic)
    asked: int = 0

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def held_ms(self, now: float) -> float:
        return (now - self.taken_at) * 1000

    def contended(self) -> bool:
        self.asked += 1
        return self.neighbours


@pytest.fixture
def sandbox(sandbox_engine: SandboxEngine) -> Iterator[Sandbox]:
    box = Sandbox(sandbox_engine, workers=1)
    yield box
    box.close()


async def run_in(
    sandbox: Sandbox, module: CompiledModule, limits: Limits, slot: Slot | None
) -> RunResult:
    request = ScriptRequest("GET", "/", endpoint="tests/run", request_id="req-1")
    context = request_context(request, limits=limits)
    context.slot = slot
    return await sandbox.run(module, request, context)


async def test_a_spinning_guest_stops_at_its_deadline_as_a_timeout(
    sandbox: Sandbox, sandbox_engine: SandboxEngine
) -> None:
    started = time.monotonic()
    result = await run_in(
        sandbox, sandbox_engine.compile(SPIN), Limits(timeout_ms=300, fuel=10**15), None
    )
    assert result.failure is FailureClass.TIMEOUT
    assert result.failure_message == "the script ran past its wall-clock deadline"
    assert time.monotonic() - started >= 0.3


async def test_a_long_turn_yields_while_its_neighbours_want_the_cpu(
    sandbox: Sandbox, sandbox_engine: SandboxEngine
) -> None:
    spin = sandbox_engine.compile(SPIN)
    alone = await run_in(sandbox, spin, WORK, Slot(neighbours=False))
    crowded_slot = Slot(neighbours=True)
    crowded = await run_in(sandbox, spin, WORK, crowded_slot)
    assert alone.failure is crowded.failure is FailureClass.FUEL_EXHAUSTED
    assert crowded_slot.asked > 0
    # Full speed for its first 100 ms, then one tick asleep for each tick run:
    # the same work takes nearly twice as long.
    assert crowded.wall_ms > 1.3 * alone.wall_ms


async def test_a_turn_alone_runs_at_full_speed(
    sandbox: Sandbox, sandbox_engine: SandboxEngine
) -> None:
    spin = sandbox_engine.compile(SPIN)
    unslotted = await run_in(sandbox, spin, WORK, None)
    alone = await run_in(sandbox, spin, WORK, Slot(neighbours=False))
    assert alone.failure is unslotted.failure is FailureClass.FUEL_EXHAUSTED
    assert alone.wall_ms < 1.3 * unslotted.wall_ms


async def test_a_short_turn_never_asks_about_its_neighbours(
    sandbox: Sandbox, sandbox_engine: SandboxEngine
) -> None:
    slot = Slot(neighbours=True)
    result = await run_in(sandbox, sandbox_engine.compile(QUICK), Limits(), slot)
    assert result.failure is None
    assert slot.asked == 0
