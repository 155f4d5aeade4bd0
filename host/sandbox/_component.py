"""Run one request through a component exporting the `endpoint` world's `handle`."""

from __future__ import annotations

import time
from typing import Any

import wasmtime
from wasmtime import component as wc

from host.failures import FailureClass
from host.sandbox import _abi as abi
from host.sandbox import _byte_lists as byte_lists
from host.sandbox import _gil as gil
from host.sandbox import _variants as variants
from host.sandbox import _wasi as wasi
from host.sandbox._abi import RequestContext
from host.sandbox._outcome import (
    Meter,
    drop_tracebacks,
    failed,
    from_exception,
    lower_headers,
    succeeded,
)
from host.sandbox._plans import Plans
from host.sandbox._store import is_instantiation_limit, new_store, rearm
from host.sandbox._types import RunResult, ScriptRequest, ScriptResponse
from host.sandbox._warm import Warm, WarmInstances, WarmKey

_GUEST_ERROR_CLASSES = {
    "exception": FailureClass.GUEST_ERROR,
    "stack-overflow": FailureClass.STACK_OVERFLOW,
    "out-of-memory": FailureClass.MEMORY_EXCEEDED,
}


def component_linker(engine: wasmtime.Engine) -> wc.Linker:
    """One linker per engine: the host's own WASI 0.2 (see _wasi) plus the ABI."""
    linker = wc.Linker(engine)
    wasi.link(linker)
    abi.link(linker)
    return linker


class ComponentRunner:
    """Runs requests through components: a fresh Store and instance each time,
    unless the endpoint's `reuse` quota lets one instance serve several."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self._linker = component_linker(engine)
        # Bodies cross the ABI as list<u8>; convert them in bulk (see _byte_lists).
        byte_lists.install()
        # Results are lowered on several worker threads at once (see _variants).
        variants.install()
        # Cheap C calls keep the GIL instead of handing it round (see _gil).
        gil.install()
        self._warm = WarmInstances()
        self.plans = Plans(engine)

    def run(
        self, component: wc.Component, request: ScriptRequest, context: RequestContext
    ) -> RunResult:
        if context.limits.reuse > 1:
            return self._run_reused(component, request, context)
        meter = Meter(fuel_limit=context.limits.fuel, started=time.monotonic())
        store = new_store(self._engine, context.limits, slot=context.slot)
        try:
            with abi.bound(context), wasi.bound(wasi.WasiState()), self.plans.calls_from(component):
                handle = self._instantiate(component, store)
                returned = self._call(component, handle, store, request)
            meter.fuel_left = store.get_fuel()
            return _result_from_guest(context, meter, returned)
        except Exception as error:
            meter.fuel_left = store.get_fuel()
            return _failure(context, meter, error)
        finally:
            # Whatever still refers to the Store (a traceback, say), its
            # memory goes now, not when the cycle collector next runs.
            store.close()

    def _run_reused(
        self, component: wc.Component, request: ScriptRequest, context: RequestContext
    ) -> RunResult:
        key = WarmKey(id(component), request.endpoint, request.version, context.limits.memory_bytes)
        warm = self._warm.take(key)
        meter = Meter(fuel_limit=context.limits.fuel, started=time.monotonic())
        store = (
            warm.store
            if warm is not None
            else new_store(self._engine, context.limits, slot=context.slot)
        )
        state = warm.wasi if warm is not None else wasi.WasiState()
        try:
            with abi.bound(context), wasi.bound(state), self.plans.calls_from(component):
                if warm is None:
                    warm = Warm(component, store, state, self._instantiate(component, store))
                else:
                    rearm(store, context.limits, context.slot)
                returned = self._call(component, warm.handle, store, request)
        except Exception as error:
            # A trapped or failed instance is never used again.
            meter.fuel_left = store.get_fuel()
            store.close()
            return _failure(context, meter, error)
        meter.fuel_left = store.get_fuel()
        result = _result_from_guest(context, meter, returned)
        warm.uses += 1
        if result.failure is None and warm.uses < context.limits.reuse:
            self._warm.give_back(key, warm)
        else:
            store.close()
        return result

    def _instantiate(self, component: wc.Component, store: wasmtime.Store) -> wc.Func:
        instance = self._linker.instantiate(store, component)
        export = self.plans.export(component, "handle")
        handle = None if export is None else instance.get_func(store, export.index)
        if handle is None:
            raise wasmtime.WasmtimeError("component does not export `handle`")
        return handle

    def _call(
        self,
        component: wc.Component,
        handle: wc.Func,
        store: wasmtime.Store,
        request: ScriptRequest,
    ) -> Any:
        export = self.plans.export(component, "handle")
        assert export is not None, "an instance of it exported `handle`"
        returned = export.plan.call(handle, store, _request_record(request))
        handle.post_return(store)
        return returned


def _failure(context: RequestContext, meter: Meter, error: Exception) -> RunResult:
    drop_tracebacks(error)
    if context.stopped_by is not None:
        # A host function stopped the guest: its reason, not the trap it became.
        return from_exception(context, meter, context.stopped_by)
    if isinstance(error, wasmtime.WasmtimeError) and is_instantiation_limit(str(error)):
        message = "the script needs more memory than its quota to start"
        return failed(context, meter, FailureClass.MEMORY_EXCEEDED, message)
    return from_exception(context, meter, error)


def _result_from_guest(context: RequestContext, meter: Meter, returned: Any) -> RunResult:
    try:
        return _read_result(context, meter, returned)
    except (AttributeError, TypeError, ValueError) as error:
        # Only a `handle` of another type than the ABI's returns something
        # unreadable; uploads are checked for that, older ones may not be.
        message = f"`handle` did not return the ABI's result: {error}"
        return failed(context, meter, FailureClass.ABI_VIOLATION, message)


def _read_result(context: RequestContext, meter: Meter, returned: Any) -> RunResult:
    if returned.tag == "err":
        guest_error = returned.payload
        failure = _GUEST_ERROR_CLASSES.get(str(guest_error.kind), FailureClass.GUEST_ERROR)
        message = str(guest_error.message)
        return failed(context, meter, failure, summary_line(message), guest_detail=message)
    payload = returned.payload
    response = ScriptResponse(
        status=int(payload.status),
        headers=lower_headers([(str(k), str(v)) for k, v in payload.headers]),
        body=bytes(payload.body),
    )
    return succeeded(context, meter, response)


def _request_record(request: ScriptRequest) -> wc.Record:
    return abi.make_record(
        method=request.method,
        path=request.path,
        query=request.query,
        headers=request.headers,
        body=request.body,
        endpoint=request.endpoint,
        version=request.version,
        **{"request-id": request.request_id},
    )


def summary_line(message: str) -> str:
    """The line of a guest error that says what went wrong.

    A Python traceback ends with it; a JavaScript error starts with it.
    """
    lines = [line for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return "the script failed"
    return lines[-1] if lines[0].startswith("Traceback") else lines[0]
