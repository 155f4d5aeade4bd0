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

from host.abi import HOST_CALL_FUEL, GuestLogLine, RequestContext, charge_fuel
from host.failures import FailureClass, SandboxAbort
from host.sandbox._component import deadline_ticks
from host.sandbox._outcome import Meter, failed, from_exception, succeeded
from host.sandbox._types import RunResult, ScriptRequest, ScriptResponse

WASI_MODULE = "wasi_snapshot_preview1"

_ERRNO_SUCCESS = 0
_ERRNO_BADF = 8
_ERRNO_INVAL = 28
_ERRNO_NOSYS = 52
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
                _metered(func),
                access_caller=True,
            )

    def run(
        self, module: wasmtime.Module, request: ScriptRequest, context: RequestContext
    ) -> RunResult:
        meter = Meter(fuel_limit=context.limits.fuel, started=time.monotonic())
        store = self._store(context)
        stdio = _Stdio(stdin=stdin_document(request))
        _local.run = _Run(context, stdio)
        instance: wasmtime.Instance | None = None
        try:
            instance = self._linker.instantiate(store, module)
            start = instance.exports(store).get("_start")
            if not isinstance(start, wasmtime.Func):
                raise SandboxAbort(FailureClass.ABI_VIOLATION, "module does not export _start")
            start(store)
            exit_code = 0
        except _Exit as exit_:
            exit_code = exit_.code
        except wasmtime.WasmtimeError as error:
            code = _exit_code_of(error)
            if code is None:
                return self._finish_failure(store, instance, meter, context, error)
            exit_code = code
        except Exception as error:
            return self._finish_failure(store, instance, meter, context, error)
        finally:
            _local.run = None
        self._read_meters(store, instance, meter)
        if exit_code != 0:
            tail = stdio.stderr[-2048:].decode("utf-8", "replace").strip()
            return failed(
                context,
                meter,
                FailureClass.GUEST_ERROR,
                f"the module exited with status {exit_code}",
                guest_detail=tail,
            )
        response = ScriptResponse(200, [("content-type", "application/json")], bytes(stdio.stdout))
        return succeeded(context, meter, response)

    def _store(self, context: RequestContext) -> wasmtime.Store:
        store = wasmtime.Store(self._engine)
        store.set_fuel(context.limits.fuel)
        store.set_limits(memory_size=context.limits.memory_bytes)
        store.set_epoch_deadline(deadline_ticks(context.limits.timeout_ms))
        return store

    def _finish_failure(
        self,
        store: wasmtime.Store,
        instance: wasmtime.Instance | None,
        meter: Meter,
        context: RequestContext,
        error: BaseException,
    ) -> RunResult:
        self._read_meters(store, instance, meter)
        if isinstance(error, wasmtime.WasmtimeError) and "memory minimum size" in str(error):
            return failed(
                context,
                meter,
                FailureClass.MEMORY_EXCEEDED,
                "the module needs more memory than its quota to start",
            )
        result = from_exception(context, meter, error)
        if result.failure is FailureClass.GUEST_ERROR and _near_limit(meter, context):
            return failed(
                context,
                meter,
                FailureClass.MEMORY_EXCEEDED,
                "linear memory reached the memory quota",
                guest_detail=result.guest_detail,
            )
        return result

    @staticmethod
    def _read_meters(
        store: wasmtime.Store, instance: wasmtime.Instance | None, meter: Meter
    ) -> None:
        meter.fuel_left = store.get_fuel()
        if instance is not None:
            memory = instance.exports(store).get("memory")
            if isinstance(memory, wasmtime.Memory):
                # Linear memory never shrinks: its size at the end is its peak.
                meter.peak_memory_bytes = memory.data_len(store)


def _near_limit(meter: Meter, context: RequestContext) -> bool:
    page = 64 * 1024
    peak = meter.peak_memory_bytes or 0
    return peak + page > context.limits.memory_bytes


def _exit_code_of(error: wasmtime.WasmtimeError) -> int | None:
    code = getattr(error, "code", None)
    return code if isinstance(code, int) else None


# --- WASI preview 1, the part a Javy-style command needs ---------------------

_I32 = wasmtime.ValType.i32()
_I64 = wasmtime.ValType.i64()


def _metered(func: Callable[..., Any]) -> Callable[..., Any]:
    def charged(caller: wasmtime.Caller, *args: Any) -> Any:
        charge_fuel(caller, HOST_CALL_FUEL)
        return func(caller, *args)

    return charged


def _memory(caller: wasmtime.Caller) -> wasmtime.Memory:
    memory = caller.get("memory")
    if not isinstance(memory, wasmtime.Memory):
        raise SandboxAbort(FailureClass.ABI_VIOLATION, "module does not export its memory")
    return memory


def _iovecs(caller: wasmtime.Caller, iovs: int, count: int) -> list[tuple[int, int]]:
    raw = _memory(caller).read(caller, iovs, iovs + 8 * count)
    return [struct.unpack_from("<II", raw, 8 * i) for i in range(count)]


def _store_u32(caller: wasmtime.Caller, address: int, value: int) -> None:
    _memory(caller).write(caller, struct.pack("<I", value), address)


def _fd_write(caller: wasmtime.Caller, fd: int, iovs: int, count: int, written: int) -> int:
    if fd not in (1, 2):
        return _ERRNO_BADF
    run = _run()
    memory = _memory(caller)
    data = b"".join(
        memory.read(caller, base, base + length) for base, length in _iovecs(caller, iovs, count)
    )
    if fd == 1:
        if len(run.stdio.stdout) + len(data) > run.context.limits.response_bytes:
            raise SandboxAbort(
                FailureClass.OUTPUT_EXCEEDED,
                f"stdout passed the {run.context.limits.response_bytes}-byte response limit",
            )
        run.stdio.stdout += data
    else:
        line = GuestLogLine("error", data.decode("utf-8", "replace"), {}, "stderr")
        if not run.context.take_output(line):
            raise SandboxAbort(
                FailureClass.OUTPUT_EXCEEDED,
                f"stderr passed the {run.context.limits.log_bytes}-byte log limit",
            )
        run.stdio.stderr += data
    _store_u32(caller, written, len(data))
    return _ERRNO_SUCCESS


def _fd_read(caller: wasmtime.Caller, fd: int, iovs: int, count: int, read: int) -> int:
    if fd != 0:
        return _ERRNO_BADF
    stdio = _run().stdio
    memory = _memory(caller)
    total = 0
    for base, length in _iovecs(caller, iovs, count):
        chunk = stdio.stdin[stdio.stdin_offset : stdio.stdin_offset + length]
        memory.write(caller, chunk, base)
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
    now = time.time_ns() if clock == 0 else time.monotonic_ns()
    _memory(caller).write(caller, struct.pack("<Q", now), out)
    return _ERRNO_SUCCESS


def _random_get(caller: wasmtime.Caller, buffer: int, length: int) -> int:
    if length > 1 << 20:
        return _ERRNO_INVAL
    _memory(caller).write(caller, os.urandom(length), buffer)
    return _ERRNO_SUCCESS


def _fd_fdstat_get(caller: wasmtime.Caller, fd: int, out: int) -> int:
    if fd not in (0, 1, 2):
        return _ERRNO_BADF
    # filetype u8, flags u16, rights_base u64, rights_inheriting u64
    stat = struct.pack("<BxHxxxxQQ", _FILETYPE_CHARACTER_DEVICE, 0, (1 << 64) - 1, 0)
    _memory(caller).write(caller, stat, out)
    return _ERRNO_SUCCESS


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
    "poll_oneoff": _entry(4, _returns(_ERRNO_NOSYS)),
    "sched_yield": _entry(0, _returns(_ERRNO_SUCCESS)),
    "sock_accept": _entry(3, _returns(_ERRNO_NOTSUP)),
    "sock_recv": _entry(6, _returns(_ERRNO_NOTSUP)),
    "sock_send": _entry(5, _returns(_ERRNO_NOTSUP)),
    "sock_shutdown": _entry(2, _returns(_ERRNO_NOTSUP)),
}

PREVIEW1_FUNCTIONS = frozenset(_PREVIEW1)
