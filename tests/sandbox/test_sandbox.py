"""Runs on the sandbox's worker threads at once: each ends with its own outcome, never another's."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import pytest
import wasmtime

from host.sandbox import CompiledModule, Limits, Sandbox, SandboxEngine
from tests.support.components import handle_component
from tests.support.runs import run_once

RUNS = 1_000
# Long enough that no run is cut short while it waits for a worker.
PATIENT = Limits(timeout_ms=600_000)

COMPONENT_EXIT = handle_component(
    imports="""
      (import "wasi:cli/exit@0.2.0" (instance $exit
        (export "exit-with-code" (func (param "status-code" u8)))))""",
    lowered="""
      (core func $exit (canon lower (func $exit "exit-with-code")))
      (core instance $host (export "exit" (func $exit)))""",
    core_imports='(import "host" "exit" (func $exit (param i32)))',
    body="(call $exit (i32.const 3))",
)
COMPONENT_TRAP = handle_component(body="unreachable")
WAT = Path(__file__).parent / "wat"
CORE_TRAP = '(module (memory (export "memory") 1) (func (export "_start") unreachable))'


def core(text: str) -> bytes:
    return bytes(wasmtime.wat2wasm(text))


PAIRS = {
    # A host function stops one (exit), a plain trap the other.
    "components": (COMPONENT_EXIT, COMPONENT_TRAP, "called exit (3)", "unreachable"),
    "core modules": (
        core((WAT / "exit_nonzero.wat").read_text()),
        core(CORE_TRAP),
        "exited with status 3",
        "unreachable",
    ),
}


@pytest.mark.parametrize("kind", PAIRS)
async def test_concurrent_failures_keep_their_own_reasons(
    sandbox_engine: SandboxEngine, kind: str
) -> None:
    exiting, trapping, exit_says, trap_says = PAIRS[kind]
    modules: dict[str, CompiledModule] = {
        exit_says: sandbox_engine.compile(exiting),
        trap_says: sandbox_engine.compile(trapping),
    }
    box = Sandbox(sandbox_engine, workers=4)
    try:
        expected = [exit_says, trap_says] * (RUNS // 2)
        results = await asyncio.gather(
            *(run_once(box, modules[says], limits=PATIENT) for says in expected)
        )
    finally:
        box.close()
    wrong = Counter(
        (says, result.failure_message)
        for says, result in zip(expected, results, strict=True)
        if says not in result.failure_message
    )
    assert not wrong, wrong
