"""Host side of the ABI imports (`scripthost:abi/{backend,log,config,script}@0.1.1`).

The functions are linked once per engine; the request they serve is found in
a thread-local, because each guest call runs start to finish on one sandbox
worker thread. That keeps per-request setup to a single assignment.
"""

from __future__ import annotations

import asyncio
import ctypes
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from wasmtime import WasmtimeError
from wasmtime import _ffi as ffi
from wasmtime import component as wc
from wasmtime.component import _linker

from host.backends import (
    BackendCallRecord,
    BackendError,
    BackendErrorKind,
    BackendOutcome,
    BackendRequest,
    BackendResponse,
    CallMemo,
    CallSource,
)
from host.failures import FailureClass, SandboxAbort
from host.limits import Limits
from host.sandbox._plans import add_planned_func, define_func

# Components built against 0.1.0 link too: wasmtime matches 0.1.x imports to
# 0.1.1 definitions (semver), and 0.1.1 only added the `script` interface.
ABI_VERSION = "0.1.1"
ABI_PACKAGE = "scripthost:abi"
# A host call is real work the guest's fuel does not see; charging it keeps
# a tight loop of host calls inside the CPU quota.
HOST_CALL_FUEL = 10_000
_TRACE_LIMIT = 200
# RFC 9110 field names, and values of visible ASCII, spaces and tabs.
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_HEADER_VALUE = re.compile(r"^[\t\x20-\x7e]*$")
# What a log line costs the log budget beyond its text: the request id,
# endpoint and timestamp it is stored with. Without it, a flood of empty
# lines would be free.
LINE_OVERHEAD_BYTES = 32


class BackendPort(Protocol):
    """What the ABI needs from the backend client (host.backends.BackendGateway)."""

    async def call_batch(
        self,
        requests: Sequence[BackendRequest],
        *,
        allowed: frozenset[str] | None,
        deadline: float,
        concurrency: int,
        memo: CallMemo | None = None,
    ) -> list[tuple[BackendOutcome, BackendCallRecord]]: ...


class Slot(Protocol):
    """The run's CPU slot, given back while the script waits (host.sandbox._slot)."""

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def held_ms(self, now: float) -> float:
        """How long the run has held the slot since it last took it (0 while paused)."""
        ...

    def contended(self) -> bool:
        """Whether other runs of this process hold slots or wait for one."""
        ...


@dataclass(frozen=True, slots=True)
class GuestLogLine:
    level: str
    message: str
    fields: dict[str, str]
    stream: str = "log"


@dataclass(frozen=True, slots=True)
class TraceEntry:
    """One host ABI call, for the failed-request view: what was asked, what came back."""

    call: str
    detail: str
    result: str
    duration_ms: float


@dataclass(frozen=True, slots=True)
class ScriptSource:
    """What a shared runtime asks the host for (`script` interface): a bundle's
    payload and what the runtime's `prepare` made of it at deploy."""

    payload: str
    prepared: str
    # Encoded once, when the bundle is loaded, not by every instance that asks,
    # and in the form the C API copies from (see add_string_func).
    payload_utf8: Utf8Text = field(init=False, repr=False, compare=False)
    prepared_utf8: Utf8Text = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "payload_utf8", utf8_text(self.payload))
        object.__setattr__(self, "prepared_utf8", utf8_text(self.prepared))


Utf8Text = ctypes.Array[ctypes.c_uint8]


def utf8_text(text: str) -> Utf8Text:
    encoded = text.encode()
    return (ctypes.c_uint8 * len(encoded)).from_buffer_copy(encoded)


@dataclass(slots=True)
class RequestContext:
    """Everything a running script may reach, and what it has used so far."""

    request_id: str
    endpoint: str
    version: str
    limits: Limits
    deadline: float
    config: Mapping[str, str] = field(default_factory=dict)
    backends: BackendPort | None = None
    loop: asyncio.AbstractEventLoop | None = None
    allowed_services: frozenset[str] | None = None
    # The bundle being served when the module is a shared runtime.
    script: ScriptSource | None = None
    # Given back while a backend call waits, when the run holds one.
    slot: Slot | None = None
    logs: list[GuestLogLine] = field(default_factory=list)
    log_bytes: int = 0
    output_overflowed: bool = False
    backend_calls: list[BackendCallRecord] = field(default_factory=list)
    trace: list[TraceEntry] = field(default_factory=list)
    # Identical reads in this request share one backend call.
    memo: CallMemo = field(default_factory=CallMemo)
    # Why a host function stopped the guest, if one did (see host_function).
    stopped_by: SandboxAbort | None = None

    def record(self, call: str, detail: str, result: str, started: float) -> None:
        if len(self.trace) < _TRACE_LIMIT:
            elapsed = round((time.monotonic() - started) * 1000, 3)
            self.trace.append(TraceEntry(call, detail, result, elapsed))

    def take_output(self, line: GuestLogLine) -> bool:
        """Account for guest output; False once the log-volume limit is passed."""
        fields = sum(len(k) + len(v) for k, v in line.fields.items())
        self.log_bytes += LINE_OVERHEAD_BYTES + len(line.message) + fields
        if self.log_bytes > self.limits.log_bytes:
            self.output_overflowed = True
            return False
        self.logs.append(line)
        return True


_local = threading.local()


@contextmanager
def bound(context: RequestContext) -> Iterator[RequestContext]:
    """Make `context` the one the ABI functions serve on this thread."""
    _local.context = context
    try:
        yield context
    finally:
        _local.context = None


def current_or_none() -> RequestContext | None:
    context: RequestContext | None = getattr(_local, "context", None)
    return context


def current() -> RequestContext:
    context: RequestContext | None = getattr(_local, "context", None)
    if context is None:
        raise SandboxAbort(FailureClass.HOST_ERROR, "host call outside of a request")
    return context


# The ABI's functions as the host implements them, in host.wit_text's notation:
# what uploads are checked against (abi/wit/world.wit says the same in WIT).
_HEADER_LIST = "list<tuple<string, string>>"
_BACKEND_REQUEST = (
    f"record{{service: string, method: string, path: string, headers: {_HEADER_LIST}, "
    "body: list<u8>, timeout-ms: option<u32>}"
)
_BACKEND_RESULT = (
    f"result<record{{status: u16, headers: {_HEADER_LIST}, body: list<u8>}}, "
    "variant{unknown-service(string), not-allowed(string), timeout(string), "
    "unavailable(string), quota-exceeded(string), bad-response(string)}>"
)
SIGNATURES: dict[str, dict[str, str]] = {
    f"{ABI_PACKAGE}/types": {},
    f"{ABI_PACKAGE}/backend": {
        "call": f"func({_BACKEND_REQUEST}) -> {_BACKEND_RESULT}",
        "call-batch": f"func(list<{_BACKEND_REQUEST}>) -> list<{_BACKEND_RESULT}>",
    },
    f"{ABI_PACKAGE}/log": {
        "write": f"func(enum{{debug, info, warn, error}}, string, {_HEADER_LIST})"
    },
    f"{ABI_PACKAGE}/config": {
        "get": "func(string) -> option<string>",
        "get-all": f"func() -> {_HEADER_LIST}",
    },
}
HANDLE_SIGNATURE = (
    "func(record{method: string, path: string, query: string, "
    f"headers: {_HEADER_LIST}, body: list<u8>, endpoint: string, version: string, "
    "request-id: string}) -> "
    f"result<record{{status: u16, headers: {_HEADER_LIST}, body: list<u8>}}, "
    "record{kind: enum{exception, stack-overflow, out-of-memory}, message: string}>"
)


def interface(name: str) -> str:
    return f"{ABI_PACKAGE}/{name}@{ABI_VERSION}"


def host_function(func: Callable[..., Any]) -> Callable[..., Any]:
    """A component host function whose way of stopping the guest reaches its own request.

    wasmtime-py keeps a Python exception raised in a host function in one
    slot for the whole process and re-raises it from the next failed guest
    call on any thread, so with several sandbox workers a request could end
    with another's failure. So the reason is kept in the request's context,
    and wasmtime-py is handed a WasmtimeError, which it passes through
    without that slot.
    """

    def call(store: Any, *args: Any) -> Any:
        try:
            return func(store, *args)
        except Exception as error:
            trap = _stop_for(current_or_none(), error)
        raise trap

    return call


def link(linker: wc.Linker) -> None:
    """Define the ABI imports on a component linker."""
    with linker.root() as root:
        with root.add_instance(interface("backend")) as backend:
            add_planned_func(backend, "call", host_function(_backend_call))
            add_planned_func(backend, "call-batch", host_function(_backend_call_batch))
        with root.add_instance(interface("log")) as log:
            add_planned_func(log, "write", host_function(_log_write))
        with root.add_instance(interface("config")) as config:
            add_planned_func(config, "get", host_function(_config_get))
            add_planned_func(config, "get-all", host_function(_config_get_all))
        with root.add_instance(interface("script")) as script:
            add_string_func(script, "bundle", _script_bundle)
            add_string_func(script, "prepared", _script_prepared)


def add_string_func(
    instance: wc.LinkerInstance, name: str, text_of: Callable[[RequestContext], Utf8Text]
) -> None:
    """Define `name: func() -> string` on `instance`, `text_of` giving the request's text.

    Every fresh instance of a runtime makes one such call, so it is kept lean:
    wasmtime-py's own trampoline reads the function's type from the C API and
    encodes the returned text on every call, and this host's other functions
    go through two more wrappers (a store object, `host_function`); measured
    inside a running guest (cold caches), that took a hello bundle's call 46 µs
    of the host's Python. Here the text is encoded once per bundle (see
    ScriptSource), copied by one C call, and the fuel is charged on the raw
    store context; wasmtime still checks the value against the import's type
    as it lowers it.
    """
    define_func(instance, name, _string_func_impl, text_of)


@ffi.wasmtime_component_func_callback_t  # type: ignore[untyped-decorator]
def _string_func_impl(
    index: int | None, store: Any, _type: Any, _args: Any, nargs: int, results: Any, nresults: int
) -> int:
    """The C callback of a string function; a non-zero return is the error that traps."""
    request = current_or_none()
    try:
        if nargs != 0 or nresults != 1:
            raise SandboxAbort(
                FailureClass.ABI_VIOLATION,
                "a `script` import called with another type than `func() -> string`",
            )
        if request is None:
            raise SandboxAbort(FailureClass.HOST_ERROR, "host call outside of a request")
        text_of = _linker.FUNCTIONS.get(index or 0)
        assert text_of is not None, "linked by add_string_func"
        text = cast(Utf8Text, text_of(request))
        charge_context_fuel(store, HOST_CALL_FUEL + len(text))
        check_deadline(request)
        value = results.contents
        value.kind = ffi.WASMTIME_COMPONENT_STRING
        ffi.wasm_byte_vec_new(ctypes.byref(value.of.string), len(text), text)
        return 0
    except Exception as error:
        trap = _stop_for(request, error)
    return ctypes.cast(trap._consume(), ctypes.c_void_p).value or 0


def _stop_for(request: RequestContext | None, error: Exception) -> WasmtimeError:
    """Keep why the guest stops in its request (the first reason wins); the trap to raise."""
    stop = (
        error
        if isinstance(error, SandboxAbort)
        else SandboxAbort(FailureClass.HOST_ERROR, f"{type(error).__name__}: {error}")
    )
    if request is not None and request.stopped_by is None:
        request.stopped_by = stop
    return WasmtimeError(stop.message)


def take_all_fuel(store: Any) -> int:
    """Leave the guest no fuel, so it traps at its next check; what it had left."""
    context_ptr = store._context()
    remaining = ctypes.c_uint64(0)
    ffi.wasmtime_context_get_fuel(context_ptr, ctypes.byref(remaining))
    ffi.wasmtime_context_set_fuel(context_ptr, 0)
    return remaining.value


def enter_host_call(store: Any, fuel: int = HOST_CALL_FUEL) -> RequestContext:
    """Where every host call starts: the request it serves, charged, and still in time.

    Epoch interruption only fires in wasm code, so a host call checks the
    deadline itself; whatever it then waits on is bounded by the deadline too.
    """
    context = current()
    charge_fuel(store, fuel)
    check_deadline(context)
    return context


def check_deadline(context: RequestContext) -> None:
    if time.monotonic() >= context.deadline:
        raise SandboxAbort(FailureClass.TIMEOUT, "the script ran past its wall-clock deadline")


def sleep_until(context: RequestContext, ready_at_ns: int) -> None:
    """Wait until monotonic `ready_at_ns` for a guest, but never past its deadline.

    If the guest would have to wait beyond the deadline, this waits until
    the deadline and then ends the run as `timeout`.
    """
    deadline_ns = int(context.deadline * 1_000_000_000)
    pause = (min(ready_at_ns, deadline_ns) - time.monotonic_ns()) / 1_000_000_000
    if pause > 0:
        with _waiting(context):
            time.sleep(pause)
    if ready_at_ns > deadline_ns:
        raise SandboxAbort(
            FailureClass.TIMEOUT, "the script waited on a timer past its wall-clock deadline"
        )


def charge_fuel(store: Any, amount: int) -> None:
    """Take fuel for host work; stop the guest if it has none left."""
    charge_context_fuel(store._context(), amount)


def charge_context_fuel(context_ptr: Any, amount: int) -> None:
    """charge_fuel on the raw store context a C callback is given."""
    remaining = ctypes.c_uint64(0)
    ffi.wasmtime_context_get_fuel(context_ptr, ctypes.byref(remaining))
    if remaining.value < amount:
        raise SandboxAbort(FailureClass.FUEL_EXHAUSTED, "host calls used up the script's fuel")
    ffi.wasmtime_context_set_fuel(context_ptr, remaining.value - amount)


def _backend_call(store: Any, raw: Any) -> Any:
    (outcome,) = _run_backend_calls(store, [raw])
    return outcome


def _backend_call_batch(store: Any, raws: list[Any]) -> list[Any]:
    return _run_backend_calls(store, raws)


def _run_backend_calls(store: Any, raws: Sequence[Any]) -> list[Any]:
    context = enter_host_call(store, HOST_CALL_FUEL * max(1, len(raws)))
    started = time.monotonic()
    requests = [_backend_request_from_guest(raw) for raw in raws]
    budget = context.limits.backend_calls - len(context.backend_calls)
    admitted, refused = requests[: max(0, budget)], requests[max(0, budget) :]
    results = _dispatch(context, admitted)
    outcomes: list[BackendOutcome] = [outcome for outcome, _ in results]
    outcomes += [
        BackendError(
            BackendErrorKind.QUOTA_EXCEEDED,
            f"at most {context.limits.backend_calls} backend calls per request",
        )
        for _ in refused
    ]
    records = [record for _, record in results]
    records += [
        BackendCallRecord(
            r.service, r.method, r.path, None, BackendErrorKind.QUOTA_EXCEEDED, 0.0, CallSource.NONE
        )
        for r in refused
    ]
    context.backend_calls.extend(records)
    for request, outcome, record in zip(requests, outcomes, records, strict=True):
        context.record(
            "backend.call",
            f"{request.service} {request.method} {request.path}",
            _describe(outcome, record.source),
            started,
        )
    return [_outcome_to_guest(outcome) for outcome in outcomes]


def _dispatch(
    context: RequestContext, requests: list[BackendRequest]
) -> list[tuple[BackendOutcome, BackendCallRecord]]:
    if not requests:
        return []
    if context.backends is None or context.loop is None:
        return [
            (
                BackendError(BackendErrorKind.UNKNOWN_SERVICE, "no backend services configured"),
                BackendCallRecord(
                    r.service,
                    r.method,
                    r.path,
                    None,
                    BackendErrorKind.UNKNOWN_SERVICE,
                    0.0,
                    CallSource.NONE,
                ),
            )
            for r in requests
        ]
    batch = context.backends.call_batch(
        requests,
        allowed=context.allowed_services,
        deadline=context.deadline,
        concurrency=context.limits.backend_concurrency,
        memo=context.memo,
    )
    future = asyncio.run_coroutine_threadsafe(batch, context.loop)
    with _waiting(context):
        # The gateway bounds every call by the deadline; the margin only covers scheduling.
        return future.result(timeout=max(0.0, context.deadline - time.monotonic()) + 1.0)


@contextmanager
def _waiting(context: RequestContext) -> Iterator[None]:
    """Waiting is not running: the run's CPU slot serves another script meanwhile."""
    if context.slot is not None:
        context.slot.pause()
    try:
        yield
    finally:
        if context.slot is not None:
            context.slot.resume()


def _backend_request_from_guest(raw: Any) -> BackendRequest:
    headers = [(str(k), str(v)) for k, v in raw.headers]
    for name, value in headers:
        if not HEADER_NAME.match(name) or not _HEADER_VALUE.match(value):
            raise SandboxAbort(
                FailureClass.ABI_VIOLATION,
                f"the script passed backend.call a header that is not valid HTTP: {name!r}",
            )
    return BackendRequest(
        service=str(raw.service),
        method=str(raw.method).upper(),
        path=str(raw.path),
        headers=headers,
        body=bytes(raw.body),
        timeout_ms=getattr(raw, "timeout-ms"),
    )


def _outcome_to_guest(outcome: BackendOutcome) -> Any:
    # result<backend-response, backend-error>: the ok case lowers from a Record
    # and the err case from a Variant, so wasmtime-py tells them apart by type.
    if isinstance(outcome, BackendError):
        return wc.Variant(outcome.kind.value, outcome.message)
    return make_record(status=outcome.status, headers=outcome.headers, body=outcome.body)


def make_record(**fields: Any) -> wc.Record:
    """A component record; WIT field names are kebab-case, so pass them via a dict."""
    record = wc.Record()
    for name, value in fields.items():
        setattr(record, name, value)
    return record


# How the trace says where an answer came from, when not from the service itself.
_SOURCES = {
    CallSource.SHARED: ", shared with an identical call of this request",
    CallSource.CACHE: ", from the shared cache",
    CallSource.STALE: ", stale from the shared cache",
}


def _describe(outcome: BackendOutcome, source: CallSource) -> str:
    if isinstance(outcome, BackendResponse):
        return f"{outcome.status} ({len(outcome.body)} bytes){_SOURCES.get(source, '')}"
    return f"{outcome.kind.value}: {outcome.message}{_SOURCES.get(source, '')}"


def _log_write(store: Any, level: str, message: str, fields: list[tuple[str, str]]) -> None:
    context = enter_host_call(store)
    line = GuestLogLine(level=str(level), message=message, fields=dict(fields))
    if not context.take_output(line):
        raise SandboxAbort(
            FailureClass.OUTPUT_EXCEEDED,
            f"log output passed the {context.limits.log_bytes}-byte limit",
        )


def _config_get(store: Any, key: str) -> str | None:
    context = enter_host_call(store)
    started = time.monotonic()
    value = context.config.get(key)
    context.record("config.get", key, "none" if value is None else "found", started)
    return value


def _config_get_all(store: Any) -> list[tuple[str, str]]:
    context = enter_host_call(store)
    return list(context.config.items())


def _script_bundle(context: RequestContext) -> Utf8Text:
    return _script_served(context).payload_utf8


def _script_prepared(context: RequestContext) -> Utf8Text:
    return _script_served(context).prepared_utf8


def _script_served(context: RequestContext) -> ScriptSource:
    script = context.script
    if script is None:
        raise SandboxAbort(
            FailureClass.ABI_VIOLATION, "the module asked for a script but runs without a bundle"
        )
    return script
