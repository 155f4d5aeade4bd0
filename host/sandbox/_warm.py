"""Idle instances kept for endpoints that opted into instance reuse.

What can leak between requests served by one instance: anything the script
keeps in module-level or global state (caches, counters, lists it appends
to), the heap's size, and the JavaScript or Python runtime's own state. That
is the point of reuse (warm caches, no start-up cost) and its risk: a script
that stores one request's data in a global can show it to the next. Nothing
leaks across versions or endpoints (the key includes both), fuel and the
deadline are reset for every request, and an instance that failed in any way
is thrown away.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import wasmtime
from wasmtime import component as wc

from host.sandbox._wasi import WasiState

# Idle instances kept per key, and keys kept in all (least recently used out).
_IDLE_PER_KEY = 8
_KEYS = 64


@dataclass(frozen=True, slots=True)
class WarmKey:
    component_id: int
    endpoint: str
    version: str
    memory_bytes: int


@dataclass(slots=True)
class Warm:
    # Held so the component outlives its instances (the key uses its id).
    component: wc.Component
    store: wasmtime.Store
    wasi: WasiState
    handle: wc.Func
    uses: int = 0


class WarmInstances:
    def __init__(self) -> None:
        self._idle: OrderedDict[WarmKey, list[Warm]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: WarmKey) -> Warm | None:
        with self._lock:
            idle = self._idle.get(key)
            return idle.pop() if idle else None

    def give_back(self, key: WarmKey, warm: Warm) -> None:
        dropped: list[Warm] = []
        with self._lock:
            idle = self._idle.setdefault(key, [])
            self._idle.move_to_end(key)
            if len(idle) < _IDLE_PER_KEY:
                idle.append(warm)
            else:
                dropped.append(warm)
            while len(self._idle) > _KEYS:
                dropped.extend(self._idle.popitem(last=False)[1])
        for instance in dropped:
            instance.store.close()
