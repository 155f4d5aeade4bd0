"""Run one request through a component exporting the `endpoint` world's `handle`."""

from __future__ import annotations

import math
import time
from typing import Any

import wasmtime
from wasmtime import component as wc

from host import abi
from host.abi import GuestLogLine, RequestContext
from host.failures import FailureClass
from host.sandbox import _byte_lists as byte_lists
from host.sandbox._engine import EPOCH_TICK_SECONDS
from host.sandbox._outcome import Meter, failed, from_exception, lower_headers, succeeded
from host.sandbox._types import RunResult, ScriptRequest, ScriptResponse
from host.sandbox._warm import Warm, WarmInstances, WarmKey

_GUEST_ERROR_CLASSES = {
    "exception": FailureClass.GUEST_ERROR,
    "stack-overflow": FailureClass.STACK_OVERFLOW,
    "out-of-memory": FailureClass.MEMORY_EXCEEDED,
}


def component_linker(engine: wasmtime.Engine) -> wc.Linker:
    """One linker per engine: WASI 0.2 (capability-free, see new_store) plus the ABI."""
    linker = wc.Linker(engine)
    linker.add_wasip2()
    abi.link(linker)
    return linker


def new_store(engine: wasmtime.Engine, context: RequestContext) -> wasmtime.Store:
    """The only way this host makes a Store.

    A component importing WASI that runs in a Store without a WASI context
    aborts the whole process, so every Store gets one, with nothing in it: no
    preopened directories, no environment, no arguments, no network, empty
    stdin, and stdout/stderr captured into the log of the request being served.
    """
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.stdout_custom = _output_sink("stdout")
    wasi.stderr_custom = _output_sink("stderr")
    store.set_wasi(wasi)
    store.set_limits(memory_size=context.limits.memory_bytes)
    rearm(store, context)
    return store


def rearm(store: wasmtime.Store, context: RequestContext) -> None:
    """A full tank and a fresh deadline for the request about to run in `store`."""
    store.set_fuel(context.limits.fuel)
    store.set_epoch_deadline(deadline_ticks(context.limits.timeout_ms))


def deadline_ticks(timeout_ms: int) -> int:
    # The ticker's next tick may come at once, so one extra tick keeps the
    # deadline from ever firing before `timeout_ms` has passed.
    return math.ceil(timeout_ms / 1000 / EPOCH_TICK_SECONDS) + 1


def _output_sink(stream: str) -> Any:
    level = "info" if stream == "stdout" else "error"

    def write(data: bytes) -> int | None:
        # Writes happen during a guest call, on its thread, so the request
        # bound there is the one the output belongs to (also for a reused
        # instance serving its next request).
        context = abi.current_or_none()
        line = GuestLogLine(level, data.decode("utf-8", "replace"), {}, stream)
        if context is not None and context.take_output(line):
            return None
        return -5  # EIO: the guest sees a failed write and the run ends as output_exceeded

    return write


class ComponentRunner:
    """Runs requests through components: a fresh Store and instance each time,
    unless the endpoint's `reuse` quota lets one instance serve several."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self._linker = component_linker(engine)
        # Bodies cross the ABI as list<u8>; convert them in bulk (see _byte_lists).
        byte_lists.install()
        self._warm = WarmInstances()

    def run(
        self, component: wc.Component, request: ScriptRequest, context: RequestContext
    ) -> RunResult:
        if context.limits.reuse > 1:
            return self._run_reused(component, request, context)
        meter = Meter(fuel_limit=context.limits.fuel, started=time.monotonic())
        store = new_store(self._engine, context)
        try:
            with abi.bound(context):
                handle = _instantiate(self._linker, component, store)
                returned = _call(handle, store, request)
        except Exception as error:
            meter.fuel_left = store.get_fuel()
            return _failure(context, meter, error)
        meter.fuel_left = store.get_fuel()
        return _result_from_guest(context, meter, returned)

    def _run_reused(
        self, component: wc.Component, request: ScriptRequest, context: RequestContext
    ) -> RunResult:
        key = WarmKey(id(component), request.endpoint, request.version, context.limits.memory_bytes)
        warm = self._warm.take(key)
        meter = Meter(fuel_limit=context.limits.fuel, started=time.monotonic())
        try:
            with abi.bound(context):
                if warm is None:
                    store = new_store(self._engine, context)
                    warm = Warm(component, store, _instantiate(self._linker, component, store))
                else:
                    rearm(warm.store, context)
                returned = _call(warm.handle, warm.store, request)
        except Exception as error:
            # A trapped or failed instance is never used again.
            meter.fuel_left = warm.store.get_fuel() if warm is not None else context.limits.fuel
            return _failure(context, meter, error)
        meter.fuel_left = warm.store.get_fuel()
        result = _result_from_guest(context, meter, returned)
        warm.uses += 1
        if result.failure is None and warm.uses < context.limits.reuse:
            self._warm.give_back(key, warm)
        return result


def _failure(context: RequestContext, meter: Meter, error: Exception) -> RunResult:
    if isinstance(error, wasmtime.WasmtimeError) and _is_instantiation_limit(str(error)):
        message = "the script needs more memory than its quota to start"
        return failed(context, meter, FailureClass.MEMORY_EXCEEDED, message)
    return from_exception(context, meter, error)


def _result_from_guest(context: RequestContext, meter: Meter, returned: Any) -> RunResult:
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


def _instantiate(linker: wc.Linker, component: wc.Component, store: wasmtime.Store) -> wc.Func:
    instance = linker.instantiate(store, component)
    handle = instance.get_func(store, "handle")
    if handle is None:
        raise wasmtime.WasmtimeError("component does not export `handle`")
    return handle


def _call(handle: wc.Func, store: wasmtime.Store, request: ScriptRequest) -> Any:
    returned = handle(store, _request_record(request))
    handle.post_return(store)
    return returned


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


def _is_instantiation_limit(text: str) -> bool:
    return "memory minimum size" in text or "exceeds memory limits" in text


def summary_line(message: str) -> str:
    """The line of a guest error that says what went wrong.

    A Python traceback ends with it; a JavaScript error starts with it.
    """
    lines = [line for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return "the script failed"
    return lines[-1] if lines[0].startswith("Traceback") else lines[0]
