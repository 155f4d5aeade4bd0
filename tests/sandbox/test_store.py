"""Every Store is limited by the request's quotas, and none outlives its request."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator

import psutil
import pytest
import wasmtime

from host.failures import FailureClass
from host.sandbox import CompiledModule, Limits, MiB, Sandbox, SandboxEngine
from tests.support.components import handle_component
from tests.support.runs import run_once

# 100 M funcref elements are 763 MiB of table: far beyond a 64 MiB quota.
TABLE_BOMB_ELEMENTS = 100_000_000


def command(body: str) -> bytes:
    return bytes(wasmtime.wat2wasm(f'(module (memory (export "memory") 1) {body})'))


MODULES: dict[str, Callable[[str, str], bytes]] = {
    # (module fields, code run before answering) -> a module of that kind
    "core module": lambda fields, code: command(f'{fields} (func (export "_start") {code})'),
    "component": lambda fields, code: handle_component(module_fields=fields, body=code),
}


@pytest.mark.parametrize("kind", MODULES)
async def test_a_table_beyond_the_memory_quota_is_refused_at_instantiation(
    sandbox: Sandbox, sandbox_engine: SandboxEngine, kind: str
) -> None:
    module = sandbox_engine.compile(MODULES[kind](f"(table {TABLE_BOMB_ELEMENTS} funcref)", ""))
    result = await run_once(sandbox, module)
    assert result.failure is FailureClass.MEMORY_EXCEEDED, result.failure_message
    assert result.status == 503


@pytest.mark.parametrize("kind", MODULES)
async def test_a_table_cannot_grow_beyond_the_memory_quota(
    sandbox: Sandbox, sandbox_engine: SandboxEngine, kind: str
) -> None:
    grow = f"(table.grow $t (ref.null func) (i32.const {TABLE_BOMB_ELEMENTS}))"
    # Traps if the growth was granted; ends normally if it was refused (-1).
    code = f"(if (i32.ne {grow} (i32.const -1)) (then unreachable))"
    module = sandbox_engine.compile(MODULES[kind]("(table $t 1 funcref)", code))
    result = await run_once(sandbox, module)
    assert result.failure is None, result.failure_message


TOUCHED = 256 * MiB
# Grows linear memory by TOUCHED, writes all of it, then traps.
TOUCH_AND_TRAP = (
    f"(drop (memory.grow (i32.const {TOUCHED // 65536})))"
    f"(memory.fill (i32.const 65536) (i32.const 1) (i32.const {TOUCHED}))"
    "unreachable"
)


@pytest.fixture
def no_cycle_collector() -> Iterator[None]:
    """Whatever is freed, is freed by reference counting alone."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.parametrize("kind", MODULES)
@pytest.mark.usefixtures("no_cycle_collector")
async def test_a_failed_run_gives_its_memory_back_at_once(
    sandbox: Sandbox, sandbox_engine: SandboxEngine, kind: str
) -> None:
    module: CompiledModule = sandbox_engine.compile(MODULES[kind]("", TOUCH_AND_TRAP))
    limits = Limits(memory_bytes=TOUCHED + 16 * MiB)
    process = psutil.Process()
    await run_once(sandbox, module, limits=limits)  # warm: thread, allocator, code
    before = process.memory_info().rss
    for _ in range(3):
        result = await run_once(sandbox, module, limits=limits)
        assert result.failure is FailureClass.GUEST_ERROR, result.failure_message
    held = process.memory_info().rss - before
    # Three failed runs each touched 256 MiB; none of it may still be held.
    assert held < TOUCHED // 4, f"{held / MiB:.0f} MiB still held"
