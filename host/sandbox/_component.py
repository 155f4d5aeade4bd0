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
from host.sandbox._engine import EPOCH_TICK_SECONDS
from host.sandbox._outcome import Meter, failed, from_exception, lower_headers, succeeded
from host.sandbox._types import RunResult, ScriptRequest, ScriptResponse

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
    stdin, and stdout/stderr captured into the request log.
    """
    store = wasmtime.Store(engine)
    wasi = wasmtime.WasiConfig()
    wasi.stdout_custom = _output_sink(context, "stdout")
    wasi.stderr_custom = _output_sink(context, "stderr")
    store.set_wasi(wasi)
    limits = context.limits
    store.set_fuel(limits.fuel)
    store.set_limits(memory_size=limits.memory_bytes)
    store.set_epoch_deadline(deadline_ticks(limits.timeout_ms))
    return store


def deadline_ticks(timeout_ms: int) -> int:
    # The ticker's next tick may come at once, so one extra tick keeps the
    # deadline from ever firing before `timeout_ms` has passed.
    return math.ceil(timeout_ms / 1000 / EPOCH_TICK_SECONDS) + 1


def _output_sink(context: RequestContext, stream: str) -> Any:
    level = "info" if stream == "stdout" else "error"

    def write(data: bytes) -> int | None:
        line = GuestLogLine(level, data.decode("utf-8", "replace"), {}, stream)
        if context.take_output(line):
            return None
        return -5  # EIO: the guest sees a failed write and the run ends as output_exceeded

    return write


class ComponentRunner:
    """Runs requests through components, a fresh Store and instance each time."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self._linker = component_linker(engine)

    def run(
        self, component: wc.Component, request: ScriptRequest, context: RequestContext
    ) -> RunResult:
        meter = Meter(fuel_limit=context.limits.fuel, started=time.monotonic())
        store = new_store(self._engine, context)
        try:
            with abi.bound(context):
                returned = _call_handle(self._linker, component, store, request)
        except wasmtime.WasmtimeError as error:
            meter.fuel_left = store.get_fuel()
            if _is_instantiation_limit(str(error)):
                return failed(
                    context,
                    meter,
                    FailureClass.MEMORY_EXCEEDED,
                    "the script needs more memory than its quota to start",
                )
            return from_exception(context, meter, error)
        except Exception as error:
            meter.fuel_left = store.get_fuel()
            return from_exception(context, meter, error)
        meter.fuel_left = store.get_fuel()
        return _result_from_guest(context, meter, returned)


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


def _call_handle(
    linker: wc.Linker, component: wc.Component, store: wasmtime.Store, request: ScriptRequest
) -> Any:
    instance = linker.instantiate(store, component)
    handle = instance.get_func(store, "handle")
    if handle is None:
        raise wasmtime.WasmtimeError("component does not export `handle`")
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
