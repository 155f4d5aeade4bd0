"""WASI 0.2 as components get it from the host: nothing waits past the request's deadline.

No SDK build imports WASI, but any other toolchain's may: the components
here are componentize-js's own (WASI on), or hand-written where a hostile
one is easiest written by hand (tests/support/components.py).
"""

from __future__ import annotations

import asyncio

import pytest
from wasmtime import component as wc

from host.build import REPO_ROOT
from host.failures import FailureClass
from host.sandbox import Limits, MiB, Sandbox, SandboxEngine, check_module
from tests.support.components import handle_component, sleeper, wasi_js_component
from tests.support.runs import run_once

SECOND_NS = 1_000_000_000
# Far longer than any deadline here: a run that waits for it is the bug.
LONG_TIMER_NS = 30 * SECOND_NS
SHORT_DEADLINE = Limits(timeout_ms=300)


@pytest.mark.parametrize("via_poll", [False, True], ids=["pollable.block", "poll"])
async def test_a_timer_beyond_the_deadline_ends_the_run_at_the_deadline(
    sandbox: Sandbox, sandbox_engine: SandboxEngine, via_poll: bool
) -> None:
    module = sandbox_engine.compile(sleeper(LONG_TIMER_NS, via_poll=via_poll))
    result = await run_once(sandbox, module, limits=SHORT_DEADLINE)
    assert result.failure is FailureClass.TIMEOUT, result.failure_message
    assert result.status == 504
    assert "waited on a timer" in result.failure_message
    assert result.wall_ms < LONG_TIMER_NS / 1e6


@pytest.mark.parametrize("via_poll", [False, True], ids=["pollable.block", "poll"])
async def test_a_timer_due_before_the_deadline_is_waited_for(
    sandbox: Sandbox, sandbox_engine: SandboxEngine, via_poll: bool
) -> None:
    timer_ns = 50_000_000
    module = sandbox_engine.compile(sleeper(timer_ns, via_poll=via_poll))
    result = await run_once(sandbox, module)
    assert result.failure is None, result.failure_message
    assert result.response is not None
    assert result.response.body == b"ok"
    assert result.wall_ms >= timer_ns / 1e6


async def test_sleepers_hold_no_worker_past_their_deadline(
    sandbox_engine: SandboxEngine,
) -> None:
    box = Sandbox(sandbox_engine, workers=2)
    try:
        slow = sandbox_engine.compile(sleeper(LONG_TIMER_NS))
        quick = sandbox_engine.compile(handle_component())
        sleepers = [
            asyncio.create_task(run_once(box, slow, limits=SHORT_DEADLINE)) for _ in range(2)
        ]
        await asyncio.sleep(0.05)  # both workers are now held by sleepers
        answered = await run_once(box, quick)
        freed_before = any(task.done() for task in sleepers)
        results = await asyncio.gather(*sleepers)
    finally:
        box.close()
    assert answered.failure is None
    # The quick request got a worker once a sleeper's deadline had freed one.
    assert freed_before
    assert [r.failure for r in results] == [FailureClass.TIMEOUT] * 2


RANDOM_IMPORT = """
  (import "wasi:random/random@0.2.0" (instance $random
    (export "get-random-bytes" (func (param "len" u64) (result (list u8))))
  ))
"""
RANDOM_LOWERED = """
  (core func $random (canon lower (func $random "get-random-bytes")
    (memory $mem) (realloc $realloc)))
  (core instance $host (export "random" (func $random)))
"""


async def test_random_bytes_beyond_the_memory_quota_are_refused_before_they_are_made(
    sandbox: Sandbox, sandbox_engine: SandboxEngine
) -> None:
    asks = 1 << 40  # a terabyte: made in the host, it would take the host down
    module = sandbox_engine.compile(
        handle_component(
            imports=RANDOM_IMPORT,
            lowered=RANDOM_LOWERED,
            core_imports='(import "host" "random" (func $random (param i64 i32)))',
            body=f"(call $random (i64.const {asks}) (i32.const 1024))",
        )
    )
    result = await run_once(sandbox, module, limits=Limits(memory_bytes=16 * MiB))
    assert result.failure is FailureClass.MEMORY_EXCEEDED, result.failure_message
    assert str(asks) in result.failure_message


STDOUT_IMPORTS = """
  (import "wasi:io/error@0.2.0" (instance $errors (export "error" (type (sub resource)))))
  (alias export $errors "error" (type $error))
  (import "wasi:io/streams@0.2.0" (instance $streams
    (alias outer 1 $error (type $outer-error))
    (export "error" (type $err (eq $outer-error)))
    (export "output-stream" (type $output (sub resource)))
    (type $stream-error (variant (case "last-operation-failed" (own $err)) (case "closed")))
    (export "stream-error" (type $se (eq $stream-error)))
    (type $written (result (error $se)))
    (export "[method]output-stream.blocking-write-and-flush"
      (func (param "self" (borrow $output)) (param "contents" (list u8)) (result $written)))
  ))
  (alias export $streams "output-stream" (type $output))
  (import "wasi:cli/stdout@0.2.0" (instance $stdout
    (alias outer 1 $output (type $outer-output))
    (export "output-stream" (type $o (eq $outer-output)))
    (export "get-stdout" (func (result (own $o))))
  ))
"""
STDOUT_LOWERED = """
  (core func $get (canon lower (func $stdout "get-stdout")))
  (core func $write (canon lower (func $streams "[method]output-stream.blocking-write-and-flush")
    (memory $mem) (realloc $realloc)))
  (core instance $host (export "get" (func $get)) (export "write" (func $write)))
"""


async def test_stdout_goes_to_the_request_log(
    sandbox: Sandbox, sandbox_engine: SandboxEngine
) -> None:
    module = sandbox_engine.compile(
        handle_component(
            imports=STDOUT_IMPORTS,
            lowered=STDOUT_LOWERED,
            core_imports="""
              (import "host" "get" (func $get (result i32)))
              (import "host" "write" (func $write (param i32 i32 i32 i32)))""",
            module_fields='(data (i32.const 128) "hello from wasi")',
            body="(call $write (call $get) (i32.const 128) (i32.const 15) (i32.const 1024))",
        )
    )
    result = await run_once(sandbox, module)
    assert result.failure is None, result.failure_message
    assert [(line.stream, line.message) for line in result.logs] == [("stdout", "hello from wasi")]


async def test_a_component_of_another_toolchain_is_accepted_and_runs_on_the_hosts_wasi(
    sandbox: Sandbox, sandbox_engine: SandboxEngine
) -> None:
    """componentize-js with its WASI on imports cli, clocks, io, random and filesystem."""
    built = wasi_js_component(REPO_ROOT / "tests/sandbox/scripts/wasi-js/clock_random_stdout.js")
    module = sandbox_engine.compile(built.read_bytes())
    assert isinstance(module.code, wc.Component)
    imports = set(module.code.type.imports(sandbox_engine.engine))
    assert {"wasi:clocks/wall-clock", "wasi:random/random", "wasi:filesystem/types"} <= {
        name.split("@")[0] for name in imports
    }
    check_module(module, sandbox_engine.engine)
    result = await run_once(sandbox, module)
    assert result.failure is None, (result.failure_message, result.guest_detail[-500:])
    assert result.response is not None
    assert result.response.body == b"clock true random true"
    assert ("stdout", "clock true random true") in [
        (line.stream, line.message) for line in result.logs
    ]
