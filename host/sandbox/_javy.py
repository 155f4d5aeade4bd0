"""The Javy contract: a core WASI command module that reads the request on stdin.

The module exports `_start`, reads `{method, path, query, headers, body}` as
JSON on stdin and writes the response body on stdout (status 200,
`application/json`). A non-zero exit is a `guest_error`. It gets no backend
calls.

Its WASI preview 1 imports are implemented here rather than by wasmtime's
WASI, so the module gets exactly this: stdin from memory, stdout and stderr
counted against the request's limits, a clock, random bytes, and nothing
else: no preopened directories, no environment, no arguments, no sockets.
"""

from __future__ import annotations

import json
import os
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import wasmtime

from host.failures import FailureClass, SandboxAbort
from host.sandbox import _core_memory as core_memory
from host.sandbox._abi import (
    HOST_CALL_FUEL,
    GuestLogLine,
    RequestContext,
    charge_fuel,
    sleep_until,
    take_all_fuel,
)
from host.sandbox._outcome import Meter, drop_tracebacks, failed, from_exception, succeeded
from host.sandbox._store import is_instantiation_limit, new_store
from host.sandbox._types import RunResult, ScriptRequest, ScriptResponse

WASI_MODULE = "wasi_snapshot_preview1"

_ERRNO_SUCCESS = 0
_ERRNO_BADF = 8
_ERRNO_FAULT = 21
_ERRNO_INVAL = 28
_ERRNO_NOTSUP = 58
_ERRNO_SPIPE = 70
_ERRNO_NOTCAPABLE = 76
_FILETYPE_CHARACTER_DEVICE = 2


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"exit {code}")
        self.code = code


@dataclass(slots=True)
class _Stdio:
    stdin: bytes
    stdin_offset: int = 0
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)


@dataclass(slots=True)
class _Run:
    context: RequestContext
    stdio: _Stdio
    # What stopped the module from inside a host function (an exit, a limit),
    # and the fuel it had left then.
    stopped_by: _Exit | SandboxAbort | None = None
    fuel_left_at_stop: int = 0


_local = threading.local()


def _run() -> _Run:
    run: _Run = _local.run
    return run


def stdin_document(request: ScriptRequest) -> bytes:
    return json.dumps(
        {
            "method": request.method,
            "path": request.path,
            "query": request.query,
            "headers": dict(request.headers),
            "body": request.body.decode("utf-8", "replace"),
        }
    ).encode()


class JavyRunner:
    """Runs requests through Javy-contract modules, a fresh Store each time."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self._linker = wasmtime.Linker(engine)
        for name, (params, results, func) in _PREVIEW1.items():
            self._linker.define_func(
                WASI_MODULE,
                name,
                wasmtime.FuncType(params, results),
                _metered(func, returns=bool(results)),
                access_caller=True,
            )

    def run(
        self, module: wasmtime.Module, request: ScriptRequest, context: RequestContext
    ) -> RunResult:
        meter = Meter(fuel_limit=context.limits.fuel, started=time.monotonic())
        store = new_store(self._engine, context.limits, memory_from_host=True, slot=context.slot)
        stdio = _Stdio(stdin=stdin_document(request))
        run = _local.run = _Run(context, stdio)
        try:
            with core_memory.budget(context.limits.memory_bytes) as memory:
                exit_code, error = self._start(store, module)
            meter.fuel_left = store.get_fuel()
            if run.stopped_by is not None:
                exit_code, error = _stop_outcome(run.stopped_by)
                meter.fuel_left = run.fuel_left_at_stop
            meter.peak_memory_bytes = memory.peak
            return _outcome(context, meter, memory, stdio, exit_code, error)
        finally:
            _local.run = None
            # Its memories are unmapped now, whatever still refers to the Store.
            store.close()

    def _start(
        self, store: wasmtime.Store, module: wasmtime.Module
    ) -> tuple[int, Exception | None]:
        """Run `_start`: the exit status, or what stopped the module."""
        try:
            instance = self._linker.instantiate(store, module)
            start = instance.exports(store).get("_start")
            if not isinstance(start, wasmtime.Func):
                raise SandboxAbort(FailureClass.ABI_VIOLATION, "module does not export _start")
            start(store)
            return 0, None
        except Exception as error:
            drop_tracebacks(error)
            return 0, error


def _stop_outcome(stop: _Exit | SandboxAbort) -> tuple[int, Exception | None]:
    return (stop.code, None) if isinstance(stop, _Exit) else (0, stop)


def _outcome(
    context: RequestContext,
    meter: Meter,
    memory: core_memory.MemoryBudget,
    stdio: _Stdio,
    exit_code: int,
    error: Exception | None,
) -> RunResult:
    tail = stdio.stderr[-2048:].decode("utf-8", "replace").strip()
    if memory.refused is not None and (error is not None or exit_code != 0):
        # It asked for more than its quota, was refused, and then failed: the quota did it.
        message = (
            f"the module asked for {memory.refused} bytes of linear memory; "
            f"its quota is {context.limits.memory_bytes}"
        )
        return failed(context, meter, FailureClass.MEMORY_EXCEEDED, message, guest_detail=tail)
    if error is not None:
        if isinstance(error, wasmtime.WasmtimeError) and is_instantiation_limit(str(error)):
            message = "the module needs more memory than its quota to start"
            return failed(context, meter, FailureClass.MEMORY_EXCEEDED, message)
        return from_exception(context, meter, error)
    if exit_code != 0:
        message = f"the module exited with status {exit_code}"
        return failed(context, meter, FailureClass.GUEST_ERROR, message, guest_detail=tail)
    response = ScriptResponse(200, [("content-type", "application/json")], bytes(stdio.stdout))
    return succeeded(context, meter, response)


# --- WASI preview 1, the part a Javy-style command needs ---------------------
#
# Every function is charged fuel, checks the deadline first and returns at
# once, except poll_oneoff on a clock, which waits no longer than the
# deadline. Pointers and lengths come from the guest: they are read as
# unsigned and checked against its memory (EFAULT, never a host exception),
# and the number of buffers or subscriptions per call is capped.

_I32 = wasmtime.ValType.i32()
_I64 = wasmtime.ValType.i64()
# Pointers and lengths arrive as signed i32: read them unsigned. (The i64
# arguments of preview 1, rights and offsets, this host never reads.)
_U32 = 0xFFFF_FFFF
# As Linux's IOV_MAX: buffers per fd_read/fd_write, subscriptions per poll_oneoff.
MAX_VECTORS = 1024
_SUBSCRIPTION_BYTES = 48
_EVENT_CLOCK, _EVENT_FD_READ, _EVENT_FD_WRITE = 0, 1, 2
_ABSOLUTE_TIME = 1
_CLOCK_REALTIME = 0
_KNOWN_CLOCKS = 4  # realtime, monotonic, process and thread CPU time


class _Fault(Exception):
    """The guest passed a pointer outside its memory: the call returns EFAULT."""


def _metered(func: Callable[..., Any], *, returns: bool) -> Callable[..., Any]:
    """A preview 1 function as linked: charged, in time, and never raising into wasmtime-py.

    wasmtime-py keeps a Python exception raised in a host function in one
    slot for the whole process and re-raises it from the next failed call on
    any thread. So a function that must stop the module (an exit, a limit)
    records why in the run, takes all the module's fuel so that it traps at
    its next check, and returns normally; the runner reads the record.
    """

    def charged(caller: wasmtime.Caller, *args: Any) -> Any:
        run = _run()
        if run.stopped_by is None:
            try:
                return _call_in_time(run.context, func, caller, args)
            except (_Exit, SandboxAbort) as stop:
                run.stopped_by = stop
            except Exception as error:
                message = f"{type(error).__name__}: {error}"
                run.stopped_by = SandboxAbort(FailureClass.HOST_ERROR, message)
            run.fuel_left_at_stop = take_all_fuel(caller)
        else:
            take_all_fuel(caller)
        return _ERRNO_SUCCESS if returns else None

    return charged


def _call_in_time(
    context: RequestContext, func: Callable[..., Any], caller: wasmtime.Caller, args: Any
) -> Any:
    charge_fuel(caller, HOST_CALL_FUEL)
    if time.monotonic() >= context.deadline:
        raise SandboxAbort(FailureClass.TIMEOUT, "the script ran past its wall-clock deadline")
    try:
        return func(caller, *(value & _U32 if isinstance(value, int) else value for value in args))
    except _Fault:
        return _ERRNO_FAULT


def _memory(caller: wasmtime.Caller) -> wasmtime.Memory:
    memory = caller.get("memory")
    if not isinstance(memory, wasmtime.Memory):
        raise SandboxAbort(FailureClass.ABI_VIOLATION, "module does not export its memory")
    return memory


def _load(caller: wasmtime.Caller, address: int, length: int) -> bytes:
    memory = _memory(caller)
    if address + length > memory.data_len(caller):
        raise _Fault
    return bytes(memory.read(caller, address, address + length))


def _store(caller: wasmtime.Caller, address: int, data: bytes) -> None:
    memory = _memory(caller)
    if address + len(data) > memory.data_len(caller):
        raise _Fault
    memory.write(caller, data, address)


def _store_u32(caller: wasmtime.Caller, address: int, value: int) -> None:
    _store(caller, address, struct.pack("<I", value))


def _iovecs(caller: wasmtime.Caller, iovs: int, count: int) -> list[tuple[int, int]]:
    raw = _load(caller, iovs, 8 * count)
    return [struct.unpack_from("<II", raw, 8 * i) for i in range(count)]


def _fd_write(caller: wasmtime.Caller, fd: int, iovs: int, count: int, written: int) -> int:
    if fd not in (1, 2):
        return _ERRNO_BADF
    if count > MAX_VECTORS:
        return _ERRNO_INVAL
    run = _run()
    vectors = _iovecs(caller, iovs, count)
    # Checked before anything is copied: the buffers may all point at the
    # whole memory.
    total = sum(length for _, length in vectors)
    limits = run.context.limits
    if fd == 1 and len(run.stdio.stdout) + total > limits.response_bytes:
        raise SandboxAbort(
            FailureClass.OUTPUT_EXCEEDED,
            f"stdout passed the {limits.response_bytes}-byte response limit",
        )
    if fd == 2 and total > limits.log_bytes:
        _stderr_overflow(run.context)
    data = b"".join(_load(caller, base, length) for base, length in vectors)
    if fd == 1:
        run.stdio.stdout += data
    else:
        line = GuestLogLine("error", data.decode("utf-8", "replace"), {}, "stderr")
        if not run.context.take_output(line):
            _stderr_overflow(run.context)
        run.stdio.stderr += data
    _store_u32(caller, written, len(data))
    return _ERRNO_SUCCESS


def _stderr_overflow(context: RequestContext) -> None:
    context.output_overflowed = True
    raise SandboxAbort(
        FailureClass.OUTPUT_EXCEEDED,
        f"stderr passed the {context.limits.log_bytes}-byte log limit",
    )


def _fd_read(caller: wasmtime.Caller, fd: int, iovs: int, count: int, read: int) -> int:
    if fd != 0:
        return _ERRNO_BADF
    if count > MAX_VECTORS:
        return _ERRNO_INVAL
    stdio = _run().stdio
    total = 0
    for base, length in _iovecs(caller, iovs, count):
        chunk = stdio.stdin[stdio.stdin_offset : stdio.stdin_offset + length]
        _store(caller, base, chunk)
        stdio.stdin_offset += len(chunk)
        total += len(chunk)
        if len(chunk) < length:
            break
    _store_u32(caller, read, total)
    return _ERRNO_SUCCESS


def _proc_exit(caller: wasmtime.Caller, code: int) -> None:
    raise _Exit(code)


def _zero_sizes(caller: wasmtime.Caller, count: int, size: int) -> int:
    _store_u32(caller, count, 0)
    _store_u32(caller, size, 0)
    return _ERRNO_SUCCESS


def _nothing_to_list(caller: wasmtime.Caller, pointers: int, buffer: int) -> int:
    return _ERRNO_SUCCESS


def _clock_time_get(caller: wasmtime.Caller, clock: int, precision: int, out: int) -> int:
    if clock >= _KNOWN_CLOCKS:
        return _ERRNO_INVAL
    now = time.time_ns() if clock == _CLOCK_REALTIME else time.monotonic_ns()
    _store(caller, out, struct.pack("<Q", now))
    return _ERRNO_SUCCESS


def _random_get(caller: wasmtime.Caller, buffer: int, length: int) -> int:
    if length > 1 << 20:
        return _ERRNO_INVAL
    _store(caller, buffer, os.urandom(length))
    return _ERRNO_SUCCESS


def _fd_fdstat_get(caller: wasmtime.Caller, fd: int, out: int) -> int:
    if fd not in (0, 1, 2):
        return _ERRNO_BADF
    # filetype u8, flags u16, rights_base u64, rights_inheriting u64
    stat = struct.pack("<BxHxxxxQQ", _FILETYPE_CHARACTER_DEVICE, 0, (1 << 64) - 1, 0)
    _store(caller, out, stat)
    return _ERRNO_SUCCESS


@dataclass(frozen=True, slots=True)
class _Subscription:
    userdata: int
    kind: int
    fd: int = 0
    # For a clock: monotonic nanoseconds at which it fires.
    due_ns: int = 0


def _poll_oneoff(caller: wasmtime.Caller, inputs: int, out: int, count: int, written: int) -> int:
    """Stdin, stdout and stderr are always ready; a clock waits, at most until the deadline."""
    if count == 0 or count > MAX_VECTORS:
        return _ERRNO_INVAL
    raw = _load(caller, inputs, _SUBSCRIPTION_BYTES * count)
    subscriptions = [_subscription(raw, _SUBSCRIPTION_BYTES * i) for i in range(count)]
    if None in subscriptions:
        return _ERRNO_INVAL
    ready = [s for s in subscriptions if s is not None and s.kind != _EVENT_CLOCK]
    if not ready:
        clocks = [s for s in subscriptions if s is not None]
        sleep_until(_run().context, min(s.due_ns for s in clocks))
        now = time.monotonic_ns()
        ready = [s for s in clocks if s.due_ns <= now]
    events = b"".join(_event(s) for s in ready)
    _store(caller, out, events)
    _store_u32(caller, written, len(ready))
    return _ERRNO_SUCCESS


def _subscription(raw: bytes, offset: int) -> _Subscription | None:
    userdata, kind = struct.unpack_from("<QB", raw, offset)
    if kind == _EVENT_CLOCK:
        clock, timeout, _, flags = struct.unpack_from("<I4xQQH", raw, offset + 16)
        if clock >= _KNOWN_CLOCKS:
            return None
        now = time.time_ns() if clock == _CLOCK_REALTIME else time.monotonic_ns()
        wait = timeout - now if flags & _ABSOLUTE_TIME else timeout
        return _Subscription(userdata, kind, due_ns=time.monotonic_ns() + wait)
    if kind in (_EVENT_FD_READ, _EVENT_FD_WRITE):
        (fd,) = struct.unpack_from("<I", raw, offset + 16)
        return _Subscription(userdata, kind, fd=fd)
    return None


def _event(subscription: _Subscription) -> bytes:
    error = _ERRNO_SUCCESS
    available = 0
    if subscription.kind == _EVENT_FD_READ:
        stdio = _run().stdio
        error = _ERRNO_SUCCESS if subscription.fd == 0 else _ERRNO_BADF
        available = len(stdio.stdin) - stdio.stdin_offset
    elif subscription.kind == _EVENT_FD_WRITE:
        error = _ERRNO_SUCCESS if subscription.fd in (1, 2) else _ERRNO_BADF
        available = _run().context.limits.log_bytes
    # userdata u64, error u16, type u8, then fd_readwrite: nbytes u64, flags u16
    return struct.pack(
        "<QHBxxxxxQHxxxxxx", subscription.userdata, error, subscription.kind, available, 0
    )


def _returns(errno: int) -> Callable[..., int]:
    def refuse(caller: wasmtime.Caller, *args: Any) -> int:
        return errno

    return refuse


def _sig(
    params: int, *, i64_at: tuple[int, ...] = (), result: bool = True
) -> tuple[list[wasmtime.ValType], list[wasmtime.ValType]]:
    return [(_I64 if i in i64_at else _I32) for i in range(params)], ([_I32] if result else [])


def _entry(
    params: int, func: Callable[..., Any], *, i64_at: tuple[int, ...] = (), result: bool = True
) -> tuple[list[wasmtime.ValType], list[wasmtime.ValType], Callable[..., Any]]:
    param_types, result_types = _sig(params, i64_at=i64_at, result=result)
    return param_types, result_types, func


_PREVIEW1: dict[str, tuple[list[wasmtime.ValType], list[wasmtime.ValType], Callable[..., Any]]] = {
    "fd_write": _entry(4, _fd_write),
    "fd_read": _entry(4, _fd_read),
    "proc_exit": _entry(1, _proc_exit, result=False),
    "environ_sizes_get": _entry(2, _zero_sizes),
    "environ_get": _entry(2, _nothing_to_list),
    "args_sizes_get": _entry(2, _zero_sizes),
    "args_get": _entry(2, _nothing_to_list),
    "clock_time_get": _entry(3, _clock_time_get, i64_at=(1,)),
    "random_get": _entry(2, _random_get),
    "fd_fdstat_get": _entry(2, _fd_fdstat_get),
    "fd_close": _entry(1, _returns(_ERRNO_SUCCESS)),
    "fd_seek": _entry(4, _returns(_ERRNO_SPIPE), i64_at=(1,)),
    # No preopened directories: enumeration ends at the first descriptor.
    "fd_prestat_get": _entry(2, _returns(_ERRNO_BADF)),
    "fd_prestat_dir_name": _entry(3, _returns(_ERRNO_BADF)),
    "path_open": _entry(9, _returns(_ERRNO_NOTCAPABLE), i64_at=(5, 6)),
    "poll_oneoff": _entry(4, _poll_oneoff),
    "sched_yield": _entry(0, _returns(_ERRNO_SUCCESS)),
    "sock_accept": _entry(3, _returns(_ERRNO_NOTSUP)),
    "sock_recv": _entry(6, _returns(_ERRNO_NOTSUP)),
    "sock_send": _entry(5, _returns(_ERRNO_NOTSUP)),
    "sock_shutdown": _entry(2, _returns(_ERRNO_NOTSUP)),
}

PREVIEW1_FUNCTIONS = frozenset(_PREVIEW1)


def preview1_signature(name: str) -> tuple[list[wasmtime.ValType], list[wasmtime.ValType]] | None:
    """The parameter and result types the host implements `name` with, if it does."""
    entry = _PREVIEW1.get(name)
    return None if entry is None else (entry[0], entry[1])
