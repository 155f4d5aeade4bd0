"""Calls through plans: types read once per component, values converted as wasmtime-py does."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from wasmtime import component as wc

from host.backends import BackendErrorKind, BackendGateway, Catalogue, Service
from host.build import build_cached
from host.sandbox import (
    CompiledModule,
    Limits,
    RequestContext,
    RunResult,
    SandboxEngine,
    ScriptOnRuntime,
    ScriptRequest,
)
from host.sandbox import _abi as abi
from host.sandbox import _wasi as wasi
from host.sandbox._component import ComponentRunner, component_linker
from host.sandbox._plans import HostFunc, Plans
from host.sandbox._store import new_store
from tests.support.runs import request_context
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


HOME_REQUEST = ScriptRequest("GET", "/", "user=42", endpoint="tests/plans", request_id="req-home")


async def _run_home(
    runner: ComponentRunner, module: CompiledModule, example_backend: str
) -> RunResult:
    # The profile service answers; recommendations is not in the catalogue, so
    # the batch lowers one response record and one error variant.
    gateway = BackendGateway(Catalogue([Service("profile", f"{example_backend}/profile")]))
    config = {"greeting": "Hello", "max_items": "2"}
    context = request_context(HOME_REQUEST, config=config, gateway=gateway)
    context.loop = asyncio.get_running_loop()
    try:
        return await asyncio.to_thread(runner.run, _component(module), HOME_REQUEST, context)
    finally:
        await gateway.aclose()


async def test_a_components_calls_of_the_host_are_planned_once_per_component(
    sandbox_engine: SandboxEngine,
    compile_file: Callable[[Path], CompiledModule],
    built: dict[str, Path],
    example_backend: str,
) -> None:
    runner = ComponentRunner(sandbox_engine.engine)
    for name in ("js", "py"):
        module = compile_file(built[name])
        for _ in range(3):
            result = await _run_home(runner, module, example_backend)
            assert result.response is not None, result.failure_message
            assert result.response.status == 200
        # backend.call-batch, config.get and log.write: each read at its first call.
        assert runner.plans.imports(_component(module)).built == 3


async def test_planned_host_calls_see_and_answer_what_wasmtime_pys_own_do(
    sandbox_engine: SandboxEngine,
    compile_file: Callable[[Path], CompiledModule],
    built: dict[str, Path],
    example_backend: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def wasmtime_pys_own(instance: wc.LinkerInstance, name: str, func: HostFunc) -> None:
        instance.add_func(name, func)

    planned = ComponentRunner(sandbox_engine.engine)
    with monkeypatch.context() as patch:
        patch.setattr(abi, "add_planned_func", wasmtime_pys_own)
        patch.setattr(wasi, "add_planned_func", wasmtime_pys_own)
        element_wise = ComponentRunner(sandbox_engine.engine)
    for name in ("js", "py"):
        module = compile_file(built[name])
        ours = await _run_home(planned, module, example_backend)
        theirs = await _run_home(element_wise, module, example_backend)
        assert ours.response is not None
        assert theirs.response is not None
        assert ours.response == theirs.response
        assert json.loads(ours.response.body)["greeting"] == "Hello, Ada!"
        assert [(line.level, line.message, line.fields) for line in ours.logs] == [
            (line.level, line.message, line.fields) for line in theirs.logs
        ]
        assert ours.logs[0].message == "home rendered"
        calls = [
            [(c.service, c.path, c.status, c.error) for c in r.backend_calls]
            for r in (ours, theirs)
        ]
        assert (
            calls[0]
            == calls[1]
            == [
                ("profile", "/users/42", 200, None),
                ("recommendations", "/for/42", None, BackendErrorKind.UNKNOWN_SERVICE),
            ]
        )
    assert planned.plans.imports(_component(module)).built == 3
    assert element_wise.plans.imports(_component(module)).built == 0
