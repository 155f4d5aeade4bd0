"""WASI 0.2 as this host gives it to components: nothing behind it, and no wait past the deadline.

wasmtime's own WASI (`Linker.add_wasip2`) waits in host code: a pollable on
a 30 s timer holds its worker thread for 30 s, because epoch interruption
only fires in wasm code. So the host implements the interfaces a script may
import itself, and every function returns at once or waits no longer than
the request's wall-clock deadline:

- `wasi:cli`: no environment, no arguments, no working directory, empty
  stdin, no terminal; stdout and stderr go to the request log, counted
  against its log limit; `exit` ends the run as a guest error.
- `wasi:io`: the three standard streams (never waiting: stdin is at its
  end, output is always writable) and pollables on them and on clocks.
- `wasi:clocks`: the host's clocks. Blocking on a timer that is due before
  the deadline sleeps until then; on one due after it, the run ends as
  `timeout` when the deadline passes.
- `wasi:random`: the host's random bytes, at most the memory quota per call.
- `wasi:filesystem`: no directories, so nothing can be opened.

Every function is charged fuel like every other host call and checks the
deadline first. The interfaces are defined at version 0.2.0; wasmtime's
linker lets imports of any 0.2.x resolve to them.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from wasmtime import component as wc

from host.failures import FailureClass, SandboxAbort
from host.sandbox import _abi as abi
from host.sandbox._abi import GuestLogLine
from host.sandbox._plans import add_planned_func

VERSION = "0.2.0"
# Live pollables one store may hold; each is a small host object.
MAX_POLLABLES = 1024
_NS = 1_000_000_000
# What `check-write` grants per call; writes are counted against the log limit anyway.
_WRITE_PERMIT = 64 * 1024

# Host resource type ids (any distinct integers).
(
    _ERROR,
    _POLLABLE,
    _INPUT_STREAM,
    _OUTPUT_STREAM,
    _TERMINAL_INPUT,
    _TERMINAL_OUTPUT,
    _DESCRIPTOR,
    _DIRECTORY_ENTRY_STREAM,
) = range(0x5C0001, 0x5C0009)
_STDIN, _STDOUT, _STDERR = 0, 1, 2


@dataclass(slots=True)
class WasiState:
    """The WASI resources of one Store: its pollables, by handle."""

    # rep -> monotonic nanoseconds at which it is ready (0: always ready).
    pollables: dict[int, int] = field(default_factory=dict)
    next_rep: int = 1


_local = threading.local()


@contextmanager
def bound(state: WasiState) -> Iterator[WasiState]:
    """Make `state` the one the WASI functions use on this thread."""
    _local.state = state
    try:
        yield state
    finally:
        _local.state = None


def _state() -> WasiState:
    state: WasiState | None = getattr(_local, "state", None)
    if state is None:
        raise SandboxAbort(FailureClass.HOST_ERROR, "WASI call outside of a request")
    return state


# --- The signatures the host implements (also what uploads are checked against) ---

# A function that can never be reached with valid arguments accepts any type.
ANY_SIGNATURE = "*"

_STREAM_ERROR = "variant{last-operation-failed(own<error>), closed}"
_BYTES = f"result<list<u8>, {_STREAM_ERROR}>"
_COUNT = f"result<u64, {_STREAM_ERROR}>"
_UNIT = f"result<_, {_STREAM_ERROR}>"
_IN = "borrow<input-stream>"
_OUT = "borrow<output-stream>"

SIGNATURES: dict[str, dict[str, str]] = {
    "wasi:io/error": {
        "[method]error.to-debug-string": "func(borrow<error>) -> string",
    },
    "wasi:io/poll": {
        "[method]pollable.ready": "func(borrow<pollable>) -> bool",
        "[method]pollable.block": "func(borrow<pollable>)",
        "poll": "func(list<borrow<pollable>>) -> list<u32>",
    },
    "wasi:io/streams": {
        "[method]input-stream.read": f"func({_IN}, u64) -> {_BYTES}",
        "[method]input-stream.blocking-read": f"func({_IN}, u64) -> {_BYTES}",
        "[method]input-stream.skip": f"func({_IN}, u64) -> {_COUNT}",
        "[method]input-stream.blocking-skip": f"func({_IN}, u64) -> {_COUNT}",
        "[method]input-stream.subscribe": f"func({_IN}) -> own<pollable>",
        "[method]output-stream.check-write": f"func({_OUT}) -> {_COUNT}",
        "[method]output-stream.write": f"func({_OUT}, list<u8>) -> {_UNIT}",
        "[method]output-stream.blocking-write-and-flush": (f"func({_OUT}, list<u8>) -> {_UNIT}"),
        "[method]output-stream.flush": f"func({_OUT}) -> {_UNIT}",
        "[method]output-stream.blocking-flush": f"func({_OUT}) -> {_UNIT}",
        "[method]output-stream.subscribe": f"func({_OUT}) -> own<pollable>",
        "[method]output-stream.write-zeroes": f"func({_OUT}, u64) -> {_UNIT}",
        "[method]output-stream.blocking-write-zeroes-and-flush": (f"func({_OUT}, u64) -> {_UNIT}"),
        "[method]output-stream.splice": (f"func({_OUT}, borrow<input-stream>, u64) -> {_COUNT}"),
        "[method]output-stream.blocking-splice": (
            f"func({_OUT}, borrow<input-stream>, u64) -> {_COUNT}"
        ),
    },
    "wasi:clocks/monotonic-clock": {
        "now": "func() -> u64",
        "resolution": "func() -> u64",
        "subscribe-instant": "func(u64) -> own<pollable>",
        "subscribe-duration": "func(u64) -> own<pollable>",
    },
    "wasi:clocks/wall-clock": {
        "now": "func() -> record{seconds: u64, nanoseconds: u32}",
        "resolution": "func() -> record{seconds: u64, nanoseconds: u32}",
    },
    "wasi:random/random": {
        "get-random-bytes": "func(u64) -> list<u8>",
        "get-random-u64": "func() -> u64",
    },
    "wasi:random/insecure": {
        "get-insecure-random-bytes": "func(u64) -> list<u8>",
        "get-insecure-random-u64": "func() -> u64",
    },
    "wasi:random/insecure-seed": {"insecure-seed": "func() -> tuple<u64, u64>"},
    "wasi:cli/environment": {
        "get-environment": "func() -> list<tuple<string, string>>",
        "get-arguments": "func() -> list<string>",
        "initial-cwd": "func() -> option<string>",
    },
    "wasi:cli/exit": {
        "exit": "func(result)",
        "exit-with-code": "func(u8)",
    },
    "wasi:cli/stdin": {"get-stdin": "func() -> own<input-stream>"},
    "wasi:cli/stdout": {"get-stdout": "func() -> own<output-stream>"},
    "wasi:cli/stderr": {"get-stderr": "func() -> own<output-stream>"},
    "wasi:cli/terminal-input": {},
    "wasi:cli/terminal-output": {},
    "wasi:cli/terminal-stdin": {"get-terminal-stdin": "func() -> option<own<terminal-input>>"},
    "wasi:cli/terminal-stdout": {"get-terminal-stdout": "func() -> option<own<terminal-output>>"},
    "wasi:cli/terminal-stderr": {"get-terminal-stderr": "func() -> option<own<terminal-output>>"},
    "wasi:filesystem/preopens": {
        "get-directories": "func() -> list<tuple<own<descriptor>, string>>",
    },
    # No directory is ever handed out, so no descriptor can exist and none
    # of these can be called with a real one: any signature will do.
    "wasi:filesystem/types": dict.fromkeys(
        [
            *(
                f"[method]descriptor.{name}"
                for name in [
                    "read-via-stream",
                    "write-via-stream",
                    "append-via-stream",
                    "advise",
                    "sync-data",
                    "get-flags",
                    "get-type",
                    "set-size",
                    "set-times",
                    "read",
                    "write",
                    "read-directory",
                    "sync",
                    "create-directory-at",
                    "stat",
                    "stat-at",
                    "set-times-at",
                    "link-at",
                    "open-at",
                    "readlink-at",
                    "remove-directory-at",
                    "rename-at",
                    "symlink-at",
                    "unlink-file-at",
                    "is-same-object",
                    "metadata-hash",
                    "metadata-hash-at",
                ]
            ),
            "[method]directory-entry-stream.read-directory-entry",
            "filesystem-error-code",
        ],
        ANY_SIGNATURE,
    ),
}

# The resources each interface defines (others reach them through `use`).
RESOURCES: dict[str, dict[str, int]] = {
    "wasi:io/error": {"error": _ERROR},
    "wasi:io/poll": {"pollable": _POLLABLE},
    "wasi:io/streams": {"input-stream": _INPUT_STREAM, "output-stream": _OUTPUT_STREAM},
    "wasi:cli/terminal-input": {"terminal-input": _TERMINAL_INPUT},
    "wasi:cli/terminal-output": {"terminal-output": _TERMINAL_OUTPUT},
    "wasi:filesystem/types": {
        "descriptor": _DESCRIPTOR,
        "directory-entry-stream": _DIRECTORY_ENTRY_STREAM,
    },
}


_enter = abi.enter_host_call


def _rep(store: Any, handle: Any) -> int:
    rep: int = handle.to_host(store).rep
    return rep


# --- wasi:io/poll --------------------------------------------------------------


def _new_pollable(ready_at_ns: int) -> wc.ResourceHost:
    state = _state()
    if len(state.pollables) >= MAX_POLLABLES:
        raise SandboxAbort(
            FailureClass.ABI_VIOLATION, f"the script holds more than {MAX_POLLABLES} pollables"
        )
    rep = state.next_rep
    state.next_rep += 1
    state.pollables[rep] = ready_at_ns
    return wc.ResourceHost.own(rep, _POLLABLE)


def _ready_at(store: Any, pollable: Any) -> int:
    return _state().pollables.get(_rep(store, pollable), 0)


def _drop_pollable(store: Any, rep: int) -> None:
    state: WasiState | None = getattr(_local, "state", None)
    if state is not None:
        state.pollables.pop(rep, None)


def _pollable_ready(store: Any, this: Any) -> bool:
    _enter(store)
    return _ready_at(store, this) <= time.monotonic_ns()


def _pollable_block(store: Any, this: Any) -> None:
    context = _enter(store)
    abi.sleep_until(context, _ready_at(store, this))


def _poll(store: Any, pollables: list[Any]) -> list[int]:
    context = _enter(store)
    if not pollables:
        raise SandboxAbort(FailureClass.ABI_VIOLATION, "poll was called with no pollables")
    ready_at = [_ready_at(store, pollable) for pollable in pollables]
    abi.sleep_until(context, min(ready_at))
    now = time.monotonic_ns()
    return [index for index, at in enumerate(ready_at) if at <= now]


# --- wasi:io/streams -----------------------------------------------------------

# How wasmtime-py lowers these results: `result<list<u8>|u64, stream-error>`
# untagged (the ok value itself, or None for the error `closed`), and
# `result<_, stream-error>` tagged, as a Variant.
_CLOSED: Any = None
_DONE = wc.Variant("ok", None)


def _read(store: Any, this: Any, length: int) -> Any:
    _enter(store)
    return _CLOSED


def _subscribe_ready(store: Any, this: Any) -> wc.ResourceHost:
    _enter(store)
    return _new_pollable(0)


def _check_write(store: Any, this: Any) -> Any:
    _enter(store)
    return _WRITE_PERMIT


def _write(store: Any, this: Any, contents: bytes) -> Any:
    context = _enter(store)
    _take_output(context, _rep(store, this), bytes(contents))
    return _DONE


def _flush(store: Any, this: Any) -> Any:
    _enter(store)
    return _DONE


def _write_zeroes(store: Any, this: Any, length: int) -> Any:
    context = _enter(store)
    if length > context.limits.log_bytes:
        _overflow(context, _rep(store, this))
    _take_output(context, _rep(store, this), bytes(length))
    return _DONE


def _splice(store: Any, this: Any, source: Any, length: int) -> Any:
    _enter(store)
    return _CLOSED  # the only input stream, stdin, is at its end


def _take_output(context: abi.RequestContext, stream: int, data: bytes) -> None:
    name = "stderr" if stream == _STDERR else "stdout"
    level = "error" if stream == _STDERR else "info"
    line = GuestLogLine(level, data.decode("utf-8", "replace"), {}, name)
    if not context.take_output(line):
        _overflow(context, stream)


def _overflow(context: abi.RequestContext, stream: int) -> None:
    name = "stderr" if stream == _STDERR else "stdout"
    raise SandboxAbort(
        FailureClass.OUTPUT_EXCEEDED,
        f"{name} passed the {context.limits.log_bytes}-byte log limit",
    )


# --- wasi:clocks ---------------------------------------------------------------


def _monotonic_now(store: Any) -> int:
    _enter(store)
    return time.monotonic_ns()


def _monotonic_resolution(store: Any) -> int:
    _enter(store)
    return 1


def _subscribe_instant(store: Any, when: int) -> wc.ResourceHost:
    _enter(store)
    return _new_pollable(when)


def _subscribe_duration(store: Any, duration: int) -> wc.ResourceHost:
    _enter(store)
    return _new_pollable(time.monotonic_ns() + duration)


def _wall_now(store: Any) -> wc.Record:
    _enter(store)
    seconds, nanoseconds = divmod(time.time_ns(), _NS)
    return abi.make_record(seconds=seconds, nanoseconds=nanoseconds)


def _wall_resolution(store: Any) -> wc.Record:
    _enter(store)
    return abi.make_record(seconds=0, nanoseconds=1)


# --- wasi:random ---------------------------------------------------------------


def _random_bytes(store: Any, length: int) -> bytes:
    context = _enter(store)
    if length > context.limits.memory_bytes:
        raise SandboxAbort(
            FailureClass.MEMORY_EXCEEDED,
            f"the script asked for {length} random bytes, more than its memory quota",
        )
    # Producing the bytes is host work: charge it like the guest's own.
    abi.charge_fuel(store, length)
    return os.urandom(length)


def _random_u64(store: Any) -> int:
    _enter(store)
    return int.from_bytes(os.urandom(8), "little")


def _insecure_seed(store: Any) -> tuple[int, int]:
    _enter(store)
    seed = os.urandom(16)
    return int.from_bytes(seed[:8], "little"), int.from_bytes(seed[8:], "little")


# --- wasi:cli ------------------------------------------------------------------


def _constant(value: Any) -> Callable[[Any], Any]:
    def get(store: Any) -> Any:
        _enter(store)
        return value() if callable(value) else value

    return get


def _stream(kind: int, resource: int) -> Callable[[Any], wc.ResourceHost]:
    def get(store: Any) -> wc.ResourceHost:
        _enter(store)
        return wc.ResourceHost.own(kind, resource)

    return get


def _exit(store: Any, status: Any) -> None:
    _enter(store)
    outcome = getattr(status, "tag", "err")
    raise SandboxAbort(
        FailureClass.GUEST_ERROR, f"the script called exit ({outcome}) instead of answering"
    )


def _exit_with_code(store: Any, code: int) -> None:
    _enter(store)
    raise SandboxAbort(
        FailureClass.GUEST_ERROR, f"the script called exit ({code}) instead of answering"
    )


def _no_files(store: Any, *args: Any) -> None:
    raise SandboxAbort(
        FailureClass.ABI_VIOLATION,
        "the script tried to use the filesystem; scripts have no access to files",
    )


def _to_debug_string(store: Any, this: Any) -> str:
    _enter(store)
    return ""


_FUNCTIONS: dict[str, dict[str, Callable[..., Any]]] = {
    "wasi:io/error": {"[method]error.to-debug-string": _to_debug_string},
    "wasi:io/poll": {
        "[method]pollable.ready": _pollable_ready,
        "[method]pollable.block": _pollable_block,
        "poll": _poll,
    },
    "wasi:io/streams": {
        "[method]input-stream.read": _read,
        "[method]input-stream.blocking-read": _read,
        "[method]input-stream.skip": _read,
        "[method]input-stream.blocking-skip": _read,
        "[method]input-stream.subscribe": _subscribe_ready,
        "[method]output-stream.check-write": _check_write,
        "[method]output-stream.write": _write,
        "[method]output-stream.blocking-write-and-flush": _write,
        "[method]output-stream.flush": _flush,
        "[method]output-stream.blocking-flush": _flush,
        "[method]output-stream.subscribe": _subscribe_ready,
        "[method]output-stream.write-zeroes": _write_zeroes,
        "[method]output-stream.blocking-write-zeroes-and-flush": _write_zeroes,
        "[method]output-stream.splice": _splice,
        "[method]output-stream.blocking-splice": _splice,
    },
    "wasi:clocks/monotonic-clock": {
        "now": _monotonic_now,
        "resolution": _monotonic_resolution,
        "subscribe-instant": _subscribe_instant,
        "subscribe-duration": _subscribe_duration,
    },
    "wasi:clocks/wall-clock": {"now": _wall_now, "resolution": _wall_resolution},
    "wasi:random/random": {"get-random-bytes": _random_bytes, "get-random-u64": _random_u64},
    "wasi:random/insecure": {
        "get-insecure-random-bytes": _random_bytes,
        "get-insecure-random-u64": _random_u64,
    },
    "wasi:random/insecure-seed": {"insecure-seed": _insecure_seed},
    "wasi:cli/environment": {
        "get-environment": _constant(list),
        "get-arguments": _constant(list),
        "initial-cwd": _constant(None),
    },
    "wasi:cli/exit": {"exit": _exit, "exit-with-code": _exit_with_code},
    "wasi:cli/stdin": {"get-stdin": _stream(_STDIN, _INPUT_STREAM)},
    "wasi:cli/stdout": {"get-stdout": _stream(_STDOUT, _OUTPUT_STREAM)},
    "wasi:cli/stderr": {"get-stderr": _stream(_STDERR, _OUTPUT_STREAM)},
    "wasi:cli/terminal-input": {},
    "wasi:cli/terminal-output": {},
    "wasi:cli/terminal-stdin": {"get-terminal-stdin": _constant(None)},
    "wasi:cli/terminal-stdout": {"get-terminal-stdout": _constant(None)},
    "wasi:cli/terminal-stderr": {"get-terminal-stderr": _constant(None)},
    "wasi:filesystem/preopens": {"get-directories": _constant(list)},
    "wasi:filesystem/types": dict.fromkeys(SIGNATURES["wasi:filesystem/types"], _no_files),
}
_DESTRUCTORS: Mapping[int, Callable[[Any, int], None]] = {_POLLABLE: _drop_pollable}


def _no_destructor(store: Any, rep: int) -> None:
    return None


def link(linker: wc.Linker) -> None:
    """Define the WASI interfaces scripts may import on a component linker."""
    with linker.root() as root:
        for interface, functions in _FUNCTIONS.items():
            with root.add_instance(f"{interface}@{VERSION}") as instance:
                for name, resource in RESOURCES.get(interface, {}).items():
                    destructor = _DESTRUCTORS.get(resource, _no_destructor)
                    instance.add_resource(name, wc.ResourceType.host(resource), destructor)
                for name, function in functions.items():
                    add_planned_func(instance, name, abi.host_function(function))
