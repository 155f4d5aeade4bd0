"""A run's wall-clock deadline, and long turns that yield the CPU to their neighbours.

The epoch ticker advances every `EPOCH_TICK_SECONDS`; when a Store's epoch
deadline is reached, wasmtime calls back here on the thread running the
guest. Past the run's wall-clock deadline the guest is stopped (a TIMEOUT).
Before it, a turn that has held its CPU slot longer than `LONG_TURN_MS` (a
script running to its fuel or time limit) while other runs of this process
hold or wait for slots sleeps one tick for every tick it runs. The fair gate
already keeps such turns to half the slots, but slots are not cores: a
process is pinned to one, and a spinning script took its full share of it
from the short requests beside it. A long turn alone runs at full speed, and
a short one never calls back at all.
"""

from __future__ import annotations

import ctypes
import itertools
import math
import time
import weakref
from dataclasses import dataclass
from typing import Any

import wasmtime
from wasmtime import _bindings as bindings
from wasmtime import _ffi as ffi

from host.failures import DEADLINE_MESSAGE
from host.protect import LONG_TURN_MS
from host.sandbox._abi import Slot
from host.sandbox._engine import EPOCH_TICK_SECONDS

_CONTINUE = 0
_Callback = bindings._wasmtime_store_epoch_deadline_callback.argtypes[1]
_Finalizer = bindings._wasmtime_store_epoch_deadline_callback.argtypes[3]


@dataclass(slots=True)
class _Run:
    deadline: float
    slot: Slot | None


# Runs by the key their Store's callback is given, and each Store's key.
_runs: dict[int, _Run] = {}
_keys: weakref.WeakKeyDictionary[wasmtime.Store, int] = weakref.WeakKeyDictionary()
_next_key = itertools.count(1)


def arm(store: wasmtime.Store, timeout_ms: int, slot: Slot | None = None) -> None:
    """Stop the guest `timeout_ms` from now; let it yield once its turn grows long."""
    now = time.monotonic()
    run = _Run(now + timeout_ms / 1000, slot)
    key = _keys.get(store)
    if key is None:
        key = _keys[store] = next(_next_key)
        ffi.wasmtime_store_epoch_deadline_callback(store.ptr(), _reached, key, _forget)
    _runs[key] = run
    store.set_epoch_deadline(_ticks_to_next_look(run, now))


def _ticks_to_next_look(run: _Run, now: float) -> int:
    """Epoch ticks until the run must be looked at: its deadline, or its turn turning long."""
    next_look = run.deadline
    if run.slot is not None:
        next_look = min(next_look, now + max(0.0, LONG_TURN_MS - run.slot.held_ms(now)) / 1000)
    # The next tick may come at once: one more keeps the look from coming early.
    return max(1, math.ceil((next_look - now) / EPOCH_TICK_SECONDS)) + 1


@_Callback  # type: ignore[untyped-decorator]
def _reached(_context: Any, key: int | None, delta: Any, kind: Any) -> int:
    """wasmtime's epoch-deadline callback; a non-zero return is the error that stops the guest."""
    try:
        run = _runs[key or 0]
        now = time.monotonic()
        if now >= run.deadline:
            return _error(DEADLINE_MESSAGE)
        if _yields(run, now):
            time.sleep(min(EPOCH_TICK_SECONDS, run.deadline - now))
            delta[0] = 1
        else:
            delta[0] = _ticks_to_next_look(run, now)
        kind[0] = _CONTINUE
        return 0
    except Exception as error:  # an exception must not unwind into wasmtime: stop the guest
        return _error(f"the host could not check the run's deadline: {error!r}")


def _yields(run: _Run, now: float) -> bool:
    slot = run.slot
    return slot is not None and slot.held_ms(now) >= LONG_TURN_MS and slot.contended()


def _error(message: str) -> int:
    error = ffi.wasmtime_error_new(message.encode())
    return ctypes.cast(error, ctypes.c_void_p).value or 0


@_Finalizer  # type: ignore[untyped-decorator]
def _forget(key: int | None) -> None:
    _runs.pop(key or 0, None)
