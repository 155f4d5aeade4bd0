"""Turning what a guest returned, or how it stopped, into a RunResult."""

from __future__ import annotations

import time
from dataclasses import dataclass

import wasmtime

from host.backends import Headers
from host.failures import FailureClass, SandboxAbort, classify_trap
from host.sandbox._abi import HEADER_NAME, RequestContext
from host.sandbox._types import RunResult, ScriptResponse

_GUEST_DETAIL_LIMIT = 16 * 1024


@dataclass(slots=True)
class Meter:
    """Fuel, memory and time of one run, read when it ends."""

    fuel_limit: int
    started: float
    peak_memory_bytes: int | None = None
    fuel_left: int = 0

    def fuel_used(self) -> int:
        return max(0, self.fuel_limit - self.fuel_left)

    def wall_ms(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 3)


def succeeded(context: RequestContext, meter: Meter, response: ScriptResponse) -> RunResult:
    problem = response_problem(response, context.limits.response_bytes)
    if problem is not None:
        return failed(context, meter, *problem)
    return _result(context, meter, response, None, "", "")


def failed(
    context: RequestContext,
    meter: Meter,
    failure: FailureClass,
    message: str,
    guest_detail: str = "",
) -> RunResult:
    if context.output_overflowed and failure is not FailureClass.HOST_ERROR:
        # Whatever stopped the guest afterwards, the flood came first.
        failure = FailureClass.OUTPUT_EXCEEDED
        message = f"output passed the {context.limits.log_bytes}-byte log limit"
    return _result(context, meter, None, failure, message, guest_detail[-_GUEST_DETAIL_LIMIT:])


def from_exception(context: RequestContext, meter: Meter, error: BaseException) -> RunResult:
    """Classify an exception raised out of a guest call."""
    drop_tracebacks(error)
    if isinstance(error, SandboxAbort):
        return failed(context, meter, error.failure, error.message)
    if isinstance(error, wasmtime.WasmtimeError | wasmtime.Trap):
        text = str(error)
        failure, message = classify_trap(text)
        return failed(context, meter, failure, message, guest_detail=text)
    return failed(context, meter, FailureClass.HOST_ERROR, f"{type(error).__name__}: {error}")


def drop_tracebacks(error: BaseException | None) -> None:
    """Break the cycle trap -> traceback -> frame -> trap that keeps a Store's frames alive.

    Only the cycle collector frees such a cycle, so without this a failed
    run's objects would outlive its request (the runners also close the
    Store itself, which returns its memory at once).
    """
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        error.__traceback__ = None
        error = error.__cause__ or error.__context__


def response_problem(response: ScriptResponse, limit: int) -> tuple[FailureClass, str] | None:
    if not 100 <= response.status <= 599:
        return FailureClass.ABI_VIOLATION, f"invalid HTTP status {response.status}"
    for name, value in response.headers:
        if not HEADER_NAME.match(name) or any(ch in value for ch in "\r\n\0"):
            return FailureClass.ABI_VIOLATION, f"invalid response header {name!r}"
    if len(response.body) > limit:
        return FailureClass.OUTPUT_EXCEEDED, f"response body passed the {limit}-byte limit"
    return None


def lower_headers(headers: Headers) -> Headers:
    return [(name.lower(), value) for name, value in headers]


def _result(
    context: RequestContext,
    meter: Meter,
    response: ScriptResponse | None,
    failure: FailureClass | None,
    message: str,
    guest_detail: str,
) -> RunResult:
    return RunResult(
        response=response,
        failure=failure,
        failure_message=message,
        guest_detail=guest_detail,
        fuel_used=meter.fuel_used(),
        peak_memory_bytes=meter.peak_memory_bytes,
        wall_ms=meter.wall_ms(),
        backend_calls=context.backend_calls,
        logs=context.logs,
        trace=context.trace,
    )
