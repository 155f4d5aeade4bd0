"""Calling `handle` through a plan: its types read once per component, values converted alike."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from wasmtime import component as wc

from host.build import build_cached
from host.sandbox import (
    CompiledModule,
    Limits,
    RequestContext,
    SandboxEngine,
    ScriptOnRuntime,
    ScriptRequest,
)
from host.sandbox import _abi as abi
from host.sandbox import _wasi as wasi
from host.sandbox._component import ComponentRunner, component_linker
from host.sandbox._plans import Plans
from host.sandbox._store import new_store
from tests.support.scripts import EXAMPLE_JS, HEADERS_JS

ECHO_JS = Path(__file__).parent / "scripts" / "js" / "echo.js"

REQUEST = ScriptRequest(
    "POST",
    "/echo",
    "a=1&b=%C3%A9",
    [("accept", "application/json"), ("x-trace", "é and ü")],
    bytes(range(256)),
    "tests/plans",
    "v1",
    "req-plans",
)


def _context(script: ScriptOnRuntime | None = None) -> RequestContext:
    limits = Limits()
    context = RequestContext(
        request_id=REQUEST.request_id,
        endpoint=REQUEST.endpoint,
        version=REQUEST.version,
        limits=limits,
        deadline=time.monotonic() + limits.timeout_ms / 1000,
    )
    context.script = script.script if script is not None else None
    return context


def _component(module: CompiledModule) -> wc.Component:
    assert isinstance(module.code, wc.Component)
    return module.code


def test_a_plan_is_built_once_per_component_and_serves_every_instance(
    sandbox_engine: SandboxEngine,
    compile_file: Callable[[Path], CompiledModule],
    built: dict[str, Path],
) -> None:
    runner = ComponentRunner(sandbox_engine.engine)
    js, py = (_component(compile_file(built[name])) for name in ("headers", "py"))
    for _ in range(5):
        assert runner.run(js, REQUEST, _context()).response is not None
    assert runner.plans.built == 1
    for _ in range(3):
        assert runner.run(py, REQUEST, _context()).response is not None
    assert runner.plans.built == 2


def test_every_bundle_on_a_runtime_shares_the_runtime_plan(
    sandbox_engine: SandboxEngine, bundled: Callable[[Path], CompiledModule]
) -> None:
    runner = ComponentRunner(sandbox_engine.engine)
    scripts = [bundled(HEADERS_JS).code, bundled(EXAMPLE_JS).code]
    for script in scripts * 2:
        assert isinstance(script, ScriptOnRuntime)
        assert runner.run(script.runtime, REQUEST, _context(script)).response is not None
    assert runner.plans.built == 1


def test_a_plan_lowers_and_lifts_what_wasmtime_py_does(
    sandbox_engine: SandboxEngine, compile_file: Callable[[Path], CompiledModule]
) -> None:
    component = _component(compile_file(build_cached(ECHO_JS)))
    linker = component_linker(sandbox_engine.engine)
    plans = Plans(sandbox_engine.engine)
    returned = []
    for planned in (True, False):
        store = new_store(sandbox_engine.engine, Limits())
        with abi.bound(_context()), wasi.bound(wasi.WasiState()):
            instance = linker.instantiate(store, component)
            handle = instance.get_func(store, "handle")
            assert handle is not None
            record = abi.make_record(
                method=REQUEST.method,
                path=REQUEST.path,
                query=REQUEST.query,
                headers=REQUEST.headers,
                body=REQUEST.body,
                endpoint=REQUEST.endpoint,
                version=REQUEST.version,
                **{"request-id": REQUEST.request_id},
            )
            if planned:
                export = plans.export(component, "handle")
                assert export is not None
                planned_handle = instance.get_func(store, export.index)
                assert planned_handle is not None
                returned.append(export.plan.call(planned_handle, store, record))
            else:
                returned.append(handle(store, record))
            handle.post_return(store)
        store.close()
    planned, element_wise = returned
    assert planned.tag == element_wise.tag == "ok"
    # The script echoes what it was sent: lowering and lifting are both compared.
    assert planned.payload == element_wise.payload
    assert planned.payload.status == 201
    assert planned.payload.body == REQUEST.body
    assert ("x-header-x-trace", "é and ü") in planned.payload.headers
    assert ("x-query", REQUEST.query) in planned.payload.headers
    assert ("x-request-id", REQUEST.request_id) in planned.payload.headers
