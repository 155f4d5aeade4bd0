"""wasmtime-py's cheap C calls keep the GIL; calls that run guest code still let go of it."""

from __future__ import annotations

import asyncio

from wasmtime import _bindings as bindings

from host.failures import FailureClass
from host.limits import Limits
from host.sandbox import Sandbox, SandboxEngine
from host.sandbox import _gil as gil
from tests.support.components import handle_component
from tests.support.runs import run_once

# Each may run guest code, compile, instantiate or unmap memory: the GIL must go.
RELEASING = (
    "wasmtime_component_func_call",
    "wasmtime_component_func_post_return",
    "wasmtime_component_linker_instantiate",
    "wasmtime_component_new",
    "wasmtime_component_deserialize",
    "wasmtime_func_call",
    "wasmtime_linker_instantiate",
    "wasmtime_module_new",
    "wasmtime_store_delete",
    "wasi_config_preopen_dir",
)
# What a host call's lowering and lifting and a store's set-up make by the hundred.
KEEPING = (
    "wasm_byte_vec_new",
    "wasm_byte_vec_delete",
    "wasmtime_component_record_type_field_nth",
    "wasmtime_component_list_type_element",
    "wasmtime_component_vallist_new_uninit",
    "wasmtime_component_val_delete",
    "wasmtime_context_set_fuel",
    "wasmtime_context_set_epoch_deadline",
    "wasmtime_engine_increment_epoch",
)
SPIN = handle_component(body="(loop $spin (br $spin)) unreachable")


def test_only_the_cheap_calls_keep_the_gil() -> None:
    gil.install()
    assert all(gil.holds_gil(getattr(bindings, f"_{name}")) for name in KEEPING)
    assert not any(gil.holds_gil(getattr(bindings, f"_{name}")) for name in RELEASING)


def test_installing_again_rebinds_nothing() -> None:
    gil.install()
    assert gil.install() == 0


async def test_the_event_loop_runs_while_a_guest_spins(sandbox_engine: SandboxEngine) -> None:
    sandbox = Sandbox(sandbox_engine, workers=1)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        result = await run_once(
            sandbox,
            sandbox_engine.compile(SPIN),
            limits=Limits(timeout_ms=500, fuel=10**15),
        )
    finally:
        ticker.cancel()
        sandbox.close()
    assert result.failure is FailureClass.TIMEOUT
    # Half a second of guest code: a loop kept from the GIL would not tick at all.
    assert ticks >= 10
