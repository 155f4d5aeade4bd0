"""The one way this host makes a Store, and everything a Store is limited by.

A Store holds everything one script instance allocates: linear memory,
tables, instances. wasmtime's store limits cap each, derived from the memory
quota: one linear memory of at most the quota, and tables of at most a
sixteenth of it more, so no table or second memory takes memory unbounded.
"""

from __future__ import annotations

import wasmtime

from host.limits import Limits
from host.sandbox import _deadline as deadline
from host.sandbox._abi import Slot

# One linear memory per script: the quota then bounds all of it. SDK builds
# of both languages have exactly one.
MAX_MEMORIES = 1
# Tables per store, and their share of the memory quota: a table element
# takes 8 bytes, so all tables together hold at most 1/16 of the quota on
# top of the linear memory (SDK builds have two, of 5,676 and 7,693 elements).
MAX_TABLES = 4
TABLE_SHARE = 16
TABLE_ELEMENT_BYTES = 8
# Core instances per store (the Python SDK's component has 38).
MAX_INSTANCES = 100


def table_elements(limits: Limits) -> int:
    """The most elements one table may hold under `limits`."""
    return limits.memory_bytes // (TABLE_SHARE * MAX_TABLES * TABLE_ELEMENT_BYTES)


def new_store(
    engine: wasmtime.Engine,
    limits: Limits,
    *,
    memory_from_host: bool = False,
    slot: Slot | None = None,
) -> wasmtime.Store:
    """A Store with the request's limits, fuel and deadline (yielding, in `slot`, when
    its turns grow long: see _deadline).

    With `memory_from_host`, the engine's memory creator (see _core_memory)
    enforces the memory quota itself, and so sees every refused growth.

    A component importing WASI that runs in a Store without a WASI context
    aborts the whole process, so every Store gets one even though this host
    links its own WASI functions (see _wasi): with nothing in it, no
    preopened directories, no environment, no arguments, no network.
    """
    store = wasmtime.Store(engine)
    store.set_wasi(wasmtime.WasiConfig())
    store.set_limits(
        memory_size=-1 if memory_from_host else limits.memory_bytes,
        table_elements=table_elements(limits),
        instances=MAX_INSTANCES,
        tables=MAX_TABLES,
        memories=MAX_MEMORIES,
    )
    rearm(store, limits, slot)
    return store


def rearm(store: wasmtime.Store, limits: Limits, slot: Slot | None = None) -> None:
    """A full tank and a fresh deadline for the request about to run in `store`."""
    store.set_fuel(limits.fuel)
    deadline.arm(store, limits.timeout_ms, slot)


def is_instantiation_limit(text: str) -> bool:
    """Whether instantiation failed because the script needs more than its store limits allow."""
    return any(
        needle in text
        for needle in (
            "memory minimum size",
            "exceeds memory limits",
            "table minimum size",
            "exceeds table limits",
            "resource limit exceeded",
        )
    )
