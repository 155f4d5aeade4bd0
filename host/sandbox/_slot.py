"""A run's CPU slot in the fair gate, as the worker thread running the script sees it.

The gate lives on the event loop; a script runs on a worker thread. When the
script blocks in a backend call, `pause` gives its slot back (through the
loop) and `resume` takes one again, at once (see `FairGate`). What the gate
is charged is the time the slot was held, not the time spent waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Hashable

from host.protect import FairGate


class GateSlot:
    def __init__(self, gate: FairGate, key: Hashable, loop: asyncio.AbstractEventLoop) -> None:
        self._gate = gate
        self._key = key
        self._loop = loop
        self._held_since: float | None = time.monotonic()

    def pause(self) -> None:
        held_since = self._held_since
        if held_since is None:
            return
        self._held_since = None
        cost_ms = (time.monotonic() - held_since) * 1000
        self._loop.call_soon_threadsafe(self._gate.pause, self._key, cost_ms)

    def resume(self) -> None:
        if self._held_since is not None:
            return
        self._loop.call_soon_threadsafe(self._gate.resume, self._key)
        self._held_since = time.monotonic()

    def held_ms(self, now: float) -> float:
        held_since = self._held_since
        return 0.0 if held_since is None else (now - held_since) * 1000

    def contended(self) -> bool:
        # Read from the worker thread: a moment stale at worst, never torn (the GIL).
        return self._gate.running > 1 or self._gate.waiting > 0

    def end(self) -> None:
        """On the loop, once the run is over: give back whatever the run still holds."""
        if self._held_since is None:
            self._gate.leave(self._key)
        else:
            self._gate.release(self._key, (time.monotonic() - self._held_since) * 1000)
