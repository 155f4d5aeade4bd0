"""The Javy contract: core WASI command modules, stdin in, stdout out, nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import wasmtime

from host.failures import FailureClass
from host.sandbox import CompiledModule, Limits, MiB, Sandbox, SandboxEngine, ScriptRequest
from tests.support.runs import run_once

WAT_DIR = Path(__file__).parent / "wat"
TIGHT = Limits(fuel=50_000_000, memory_bytes=4 * MiB, timeout_ms=1_000, response_bytes=64 * 1024)


def module(engine: SandboxEngine, name: str) -> CompiledModule:
    return engine.compile(bytes(wasmtime.wat2wasm((WAT_DIR / f"{name}.wat").read_text())))


async def test_request_document_arrives_on_stdin_and_stdout_is_the_body(
    sandbox: Sandbox, sandbox_engine: SandboxEngine
) -> None:
    request = ScriptRequest(
        "POST", "/items", "page=2", [("accept", "application/json")], '{"née": 1}'.encode()
    )
    result = await run_once(sandbox, module(sandbox_engine, "echo"), request)
    assert result.failure is None
    assert result.response is not None
    assert result.response.status == 200
    assert ("content-type", "application/json") in result.response.headers
    assert json.loads(result.response.body) == {
        "method": "POST",
        "path": "/items",
        "query": "page=2",
        "headers": {"accept": "application/json"},
        "body": '{"née": 1}',
    }
    assert result.peak_memory_bytes == 2 * 64 * 1024


async def test_nonzero_exit_is_a_guest_error_with_stderr(
    sandbox: Sandbox, sandbox_engine: SandboxEngine
) -> None:
    result = await run_once(sandbox, module(sandbox_engine, "exit_nonzero"))
    assert result.failure is FailureClass.GUEST_ERROR
    assert result.status == 500
    assert "status 3" in result.failure_message
    assert result.guest_detail == "bad input"
    assert [line.stream for line in result.logs] == ["stderr"]


@pytest.mark.parametrize(
    ("name", "failure"),
    [
        ("loop", FailureClass.FUEL_EXHAUSTED),
        ("grow", FailureClass.MEMORY_EXCEEDED),
        ("recurse", FailureClass.STACK_OVERFLOW),
        ("flood", FailureClass.OUTPUT_EXCEEDED),
        ("unknown_import", FailureClass.ABI_VIOLATION),
    ],
)
async def test_adversarial_module_ends_in_its_failure_class_and_the_next_request_succeeds(
    sandbox: Sandbox, sandbox_engine: SandboxEngine, name: str, failure: FailureClass
) -> None:
    result = await run_once(sandbox, module(sandbox_engine, name), limits=TIGHT)
    assert result.failure is failure, result.failure_message
    assert result.status == failure.http_status
    after = await run_once(sandbox, module(sandbox_engine, "echo"), limits=TIGHT)
    assert after.failure is None


async def test_grow_stops_at_the_memory_quota(
    sandbox: Sandbox, sandbox_engine: SandboxEngine
) -> None:
    result = await run_once(sandbox, module(sandbox_engine, "grow"), limits=TIGHT)
    assert result.peak_memory_bytes == TIGHT.memory_bytes


async def test_wall_clock_deadline_stops_a_module_with_fuel_to_spare(
    sandbox: Sandbox, sandbox_engine: SandboxEngine
) -> None:
    limits = Limits(fuel=10**15, timeout_ms=100)
    result = await run_once(sandbox, module(sandbox_engine, "loop"), limits=limits)
    assert result.failure is FailureClass.TIMEOUT
    assert result.status == 504
    assert result.wall_ms >= 100


async def test_no_file_or_socket_can_be_opened(
    sandbox: Sandbox, sandbox_engine: SandboxEngine
) -> None:
    result = await run_once(sandbox, module(sandbox_engine, "escape"))
    # The module found no preopened directory, path_open and sock_accept were
    # refused; it reports path_open's errno (76, ENOTCAPABLE) as its exit status.
    assert result.failure is FailureClass.GUEST_ERROR
    assert "status 76" in result.failure_message


async def test_memory_asked_for_beyond_the_quota_is_memory_exceeded_not_a_guest_error(
    sandbox: Sandbox, sandbox_engine: SandboxEngine
) -> None:
    # One request for 64 MiB under a 4 MiB quota: refused, and then it traps.
    result = await run_once(sandbox, module(sandbox_engine, "bomb"), limits=TIGHT)
    assert result.failure is FailureClass.MEMORY_EXCEEDED, result.failure_message
    assert result.status == 503
    assert f"its quota is {TIGHT.memory_bytes}" in result.failure_message
    assert result.peak_memory_bytes == 64 * 1024


async def test_bad_pointers_and_counts_get_errnos_not_host_errors(
    sandbox: Sandbox, sandbox_engine: SandboxEngine
) -> None:
    result = await run_once(sandbox, module(sandbox_engine, "bad_pointer"))
    # EFAULT for the iovecs outside memory, EINVAL for 2^31 of them.
    assert result.failure is FailureClass.GUEST_ERROR, result.failure_message
    assert "status 2128" in result.failure_message


async def test_a_clock_beyond_the_deadline_ends_the_run_at_the_deadline(
    sandbox: Sandbox, sandbox_engine: SandboxEngine
) -> None:
    result = await run_once(sandbox, module(sandbox_engine, "sleep"), limits=Limits(timeout_ms=300))
    assert result.failure is FailureClass.TIMEOUT, result.failure_message
    assert "waited on a timer" in result.failure_message
    assert result.wall_ms < 30_000


async def test_poll_oneoff_answers_ready_streams_at_once_and_clocks_when_due(
    sandbox: Sandbox, sandbox_engine: SandboxEngine
) -> None:
    result = await run_once(sandbox, module(sandbox_engine, "nap"))
    assert result.failure is None, result.failure_message
    assert result.response is not None
    # First the stdout event (userdata 2), not the clock; then the clock (3).
    assert result.response.body == b"23"
    assert result.wall_ms >= 20
