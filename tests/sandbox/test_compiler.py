"""Compiles run in a child process with memory and CPU limits, one at a time, after checks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import psutil
import pytest
import wasmtime

from host.sandbox import (
    CompileLimits,
    IsolatedCompiler,
    MiB,
    ModuleRejected,
    Sandbox,
    SandboxEngine,
    ScriptRequest,
)
from host.sandbox._shape import MAX_FUNCTIONS
from tests.support.components import command_with_functions, handle_component
from tests.support.runs import run_once

# Compiling this many functions needs more than 256 MiB and a few seconds of CPU.
HEAVY = command_with_functions(60_000)


async def test_a_compiled_module_runs_from_the_artifact_the_child_wrote(
    sandbox: Sandbox, sandbox_engine: SandboxEngine, tmp_path: Path
) -> None:
    artifact = tmp_path / "echo.partial"
    module = await IsolatedCompiler(sandbox_engine).compile(handle_component(), artifact)
    assert module.artifact == artifact
    assert module.code_bytes == artifact.stat().st_size > 0
    result = await run_once(sandbox, module, ScriptRequest("GET", "/"))
    assert result.response is not None
    assert result.response.body == b"ok"


@pytest.mark.parametrize(
    ("limits", "refusal"),
    [
        (CompileLimits(memory_bytes=256 * MiB), "more than 256 MiB of memory"),
        (CompileLimits(cpu_seconds=1), "more than 1 s of CPU"),
    ],
    ids=["memory", "cpu"],
)
async def test_a_compile_past_its_limits_is_refused_and_leaves_nothing(
    sandbox_engine: SandboxEngine, tmp_path: Path, limits: CompileLimits, refusal: str
) -> None:
    artifact = tmp_path / "heavy.partial"
    with pytest.raises(ModuleRejected, match=refusal):
        await IsolatedCompiler(sandbox_engine, limits).compile(HEAVY, artifact)
    assert not artifact.exists()


async def test_more_functions_than_a_script_may_have_are_refused_before_compiling(
    sandbox_engine: SandboxEngine, tmp_path: Path
) -> None:
    compiler = IsolatedCompiler(sandbox_engine)
    too_many = command_with_functions(MAX_FUNCTIONS + 1)
    async with compile_children() as most:
        with pytest.raises(ModuleRejected, match=f"at most {MAX_FUNCTIONS}"):
            await compiler.compile(too_many, tmp_path / "m.partial")
    assert most[0] == 0


async def test_compiles_wait_their_turn(sandbox_engine: SandboxEngine, tmp_path: Path) -> None:
    compiler = IsolatedCompiler(sandbox_engine, CompileLimits(concurrency=1))
    modules = [
        bytes(wasmtime.wat2wasm(f"(module {_COMMAND} (func (result i32) (i32.const {n})))"))
        for n in range(3)
    ]
    async with compile_children() as most:
        await asyncio.gather(
            *(compiler.compile(wasm, tmp_path / f"{n}.partial") for n, wasm in enumerate(modules))
        )
    assert most[0] == 1


_COMMAND = '(memory (export "memory") 1) (func (export "_start"))'


@contextlib.asynccontextmanager
async def compile_children() -> AsyncIterator[list[int]]:
    """The most compile children this process had at once while the block ran (sampled)."""
    most = [0]
    me = psutil.Process()

    async def watch() -> None:
        while True:
            now = sum("host.sandbox._compile_child" in _cmdline(child) for child in me.children())
            most[0] = max(most[0], now)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0)
    try:
        yield most
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


def _cmdline(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except psutil.Error:
        return ""
