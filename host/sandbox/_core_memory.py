"""Linear memory for core modules, made by the host so that it sees every request to grow.

wasmtime's store limits refuse growth past the quota silently: `memory.grow`
returns -1 and a module that then traps looks like any other trap. Core
modules (the Javy contract) therefore run on an engine whose linear memories
come from this memory creator: it maps each memory itself, grows it while
all memories of the run stay within the run's budget, and records the
largest size it refused. The run is then classified `memory_exceeded`, and
its peak is exact.

Copy-on-write memory images cannot be combined with a memory creator (the
process aborts), so the engine for core modules has them off; components
keep theirs on the main engine.
"""

from __future__ import annotations

import ctypes
import itertools
import mmap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi

_PAGE = 64 * 1024
_PROT_NONE = 0
_PROT_READ_WRITE = mmap.PROT_READ | mmap.PROT_WRITE
_MAP_NORESERVE = 0x4000
_MAP_FAILED = ctypes.c_void_p(-1).value

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [
    ctypes.c_void_p,
    ctypes.c_size_t,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_int,
    ctypes.c_long,
]
_libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]


@dataclass(slots=True)
class MemoryBudget:
    """What all linear memories of one run may hold, and what they did."""

    limit: int
    sizes: dict[int, int] = field(default_factory=dict)
    peak: int = 0
    # The largest total the run asked for beyond its limit.
    refused: int | None = None

    def try_resize(self, memory: int, new_size: int) -> bool:
        total = sum(self.sizes.values()) - self.sizes.get(memory, 0) + new_size
        if total > self.limit:
            self.refused = max(self.refused or 0, total)
            return False
        self.sizes[memory] = new_size
        self.peak = max(self.peak, total)
        return True


@dataclass(slots=True)
class _Mapping:
    base: int
    span: int
    capacity: int
    size: int
    budget: MemoryBudget


_local = threading.local()
_mappings: dict[int, _Mapping] = {}
_mappings_lock = threading.Lock()
_ids = itertools.count(1)


@contextmanager
def budget(limit: int) -> Iterator[MemoryBudget]:
    """Memories created on this thread until the block ends draw on one budget of `limit` bytes."""
    run_budget = MemoryBudget(limit)
    _local.budget = run_budget
    try:
        yield run_budget
    finally:
        _local.budget = None


def _error(message: str) -> int:
    pointer = ffi.wasmtime_error_new(message.encode())
    return ctypes.cast(pointer, ctypes.c_void_p).value or 0


@ffi.wasmtime_new_memory_callback_t  # type: ignore[untyped-decorator]
def _new_memory(
    env: Any, ty: Any, minimum: int, maximum: int, reserved: int, guard: int, out: Any
) -> int:
    try:
        run_budget: MemoryBudget | None = getattr(_local, "budget", None)
        if run_budget is None:
            return _error("scripthost: a linear memory outside of a sandbox run")
        memory = next(_ids)
        if not run_budget.try_resize(memory, minimum):
            return _error("scripthost: memory minimum size exceeds the memory quota")
        # Reserve the whole range the memory may ever use plus its guard, so
        # it never moves; only the part in use is readable and writable.
        capacity = max(reserved, _round_up(min(maximum, run_budget.limit)))
        span = capacity + guard
        base = _libc.mmap(
            None, span, _PROT_NONE, mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_NORESERVE, -1, 0
        )
        if base is None or base == _MAP_FAILED:
            return _error("scripthost: could not reserve linear memory")
        if minimum and _libc.mprotect(base, minimum, _PROT_READ_WRITE) != 0:
            _libc.munmap(base, span)
            return _error("scripthost: could not map linear memory")
        with _mappings_lock:
            _mappings[memory] = _Mapping(base, span, capacity, minimum, run_budget)
        out[0].env = memory
        out[0].get_memory = _get_memory
        out[0].grow_memory = _grow_memory
        out[0].finalizer = _finalize
        return 0
    except BaseException:  # a Python exception must never cross into wasmtime
        return _error("scripthost: memory creator failed")


@ffi.wasmtime_memory_get_callback_t  # type: ignore[untyped-decorator]
def _get_memory(env: int, size: Any, maximum: Any) -> int:
    mapping = _mappings[env]
    size[0] = mapping.size
    maximum[0] = mapping.capacity
    return mapping.base


@ffi.wasmtime_memory_grow_callback_t  # type: ignore[untyped-decorator]
def _grow_memory(env: int, new_size: int) -> int:
    try:
        mapping = _mappings[env]
        if not mapping.budget.try_resize(env, new_size) or new_size > mapping.capacity:
            return _error("scripthost: memory quota")
        if _libc.mprotect(mapping.base, new_size, _PROT_READ_WRITE) != 0:
            return _error("scripthost: could not map linear memory")
        mapping.size = new_size
        return 0
    except BaseException:
        return _error("scripthost: memory creator failed")


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)  # type: ignore[untyped-decorator]
def _finalize(env: int) -> None:
    with _mappings_lock:
        mapping = _mappings.pop(env, None)
    if mapping is not None:
        _libc.munmap(mapping.base, mapping.span)


@ctypes.CFUNCTYPE(None, ctypes.c_void_p)  # type: ignore[untyped-decorator]
def _finalize_creator(env: int) -> None:
    return None


def _round_up(size: int) -> int:
    return -(-size // _PAGE) * _PAGE


_CREATOR = ffi.wasmtime_memory_creator_t(None, _new_memory, _finalize_creator)


def install(config: wasmtime.Config) -> None:
    """Make every linear memory of engines built from `config` come from this module."""
    config.memory_init_cow = False
    ffi.wasmtime_config_host_memory_creator_set(config.ptr(), ctypes.byref(_CREATOR))
