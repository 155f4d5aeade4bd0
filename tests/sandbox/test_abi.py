"""The host side of the ABI: its bookkeeping, and what it refuses from a guest."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import pytest
import wasmtime
from wasmtime import component as wc

from host.backends import BackendGateway, Catalogue, Service
from host.build import REPO_ROOT, build_cached
from host.failures import FailureClass
from host.sandbox import (
    CompiledModule,
    Limits,
    RequestContext,
    Sandbox,
    SandboxEngine,
    ScriptRequest,
)
from host.sandbox._abi import LINE_OVERHEAD_BYTES, GuestLogLine
from host.sandbox._component import component_linker
from tests.support.runs import run_once


def context(log_bytes: int) -> RequestContext:
    return RequestContext(
        request_id="req",
        endpoint="tv/home",
        version="v1",
        limits=Limits(log_bytes=log_bytes),
        deadline=time.monotonic() + 1,
    )


def test_empty_log_lines_still_spend_the_log_budget() -> None:
    request = context(log_bytes=10 * LINE_OVERHEAD_BYTES)
    taken = [request.take_output(GuestLogLine("info", "", {})) for _ in range(11)]
    assert taken == [True] * 10 + [False]
    assert request.output_overflowed
    assert len(request.logs) == 10


def test_a_line_costs_its_text_and_fields() -> None:
    request = context(log_bytes=LINE_OVERHEAD_BYTES + 10)
    assert request.take_output(GuestLogLine("info", "12345", {"ab": "cde"}))
    assert not request.take_output(GuestLogLine("info", "", {}))


@pytest.mark.parametrize(("version", "links"), [("0.1.0", True), ("0.1.1", True), ("0.2.0", False)])
def test_components_built_against_any_0_1_release_link(
    sandbox_engine: SandboxEngine, version: str, links: bool
) -> None:
    # As scripts deployed before 0.1.1 import the ABI: the host provides 0.1.1.
    component = wc.Component(
        sandbox_engine.engine,
        wasmtime.wat2wasm(
            f'(component (import "scripthost:abi/config@{version}" (instance'
            ' (export "get-all" (func (result (list (tuple string string))))))))'
        ),
    )
    store = wasmtime.Store(sandbox_engine.engine)
    store.set_wasi(wasmtime.WasiConfig())
    linker = component_linker(sandbox_engine.engine)
    if links:
        linker.instantiate(store, component)
    else:
        with pytest.raises(wasmtime.WasmtimeError, match=r"config@0\.2\.0"):
            linker.instantiate(store, component)


@pytest.fixture(scope="module")
def header_script() -> Path:
    return build_cached(REPO_ROOT / "tests" / "sandbox" / "scripts" / "js" / "header.js")


@pytest.mark.parametrize(
    ("value", "failure"),
    [
        ("plain", None),
        ("née", FailureClass.ABI_VIOLATION),
        ("a\r\nx-evil: 1", FailureClass.ABI_VIOLATION),
    ],
)
async def test_a_backend_header_that_is_not_valid_http_is_the_scripts_fault(
    sandbox: Sandbox,
    compile_file: Callable[[Path], CompiledModule],
    header_script: Path,
    example_backend: str,
    value: str,
    failure: FailureClass | None,
) -> None:
    gateway = BackendGateway(Catalogue([Service("profile", f"{example_backend}/profile")]))
    request = ScriptRequest("GET", "/", urlencode({"value": value}), request_id="header")
    try:
        result = await run_once(sandbox, compile_file(header_script), request, gateway=gateway)
    finally:
        await gateway.aclose()
    assert result.failure is failure, result.failure_message
    if failure is not None:
        assert "not valid HTTP" in result.failure_message
        assert result.backend_calls == []
