"""Fair sharing of the sandbox workers between endpoints.

At most `slots` scripts run at once. When every slot is taken, requests wait
in their endpoint's queue, and a freed slot goes to the endpoint that has
used the least worker time so far (start-time fair queuing): an endpoint
whose scripts run for 500 ms before timing out waits behind one whose
scripts finish in 5 ms, instead of the other way round as in a FIFO queue.
No endpoint may hold more than half the slots, so one endpoint whose
scripts all run to their time limit leaves the other half to its neighbours;
and an endpoint none of whose runs has ended yet holds one slot (a slow
start), so that endpoints whose cost nobody knows, such as scripts that
block until their deadline, cannot take all the slots with their first burst.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Hashable

_SMOOTHING = 0.3


class FairGate:
    def __init__(self, slots: int) -> None:
        self._free = slots
        self._per_endpoint = max(1, slots // 2)
        self._waiters: defaultdict[Hashable, deque[asyncio.Future[None]]] = defaultdict(deque)
        self._queued_at: dict[asyncio.Future[None], float] = {}
        # Worker milliseconds each endpoint has been charged, on a shared clock.
        self._used_ms: dict[Hashable, float] = {}
        # What a run of each endpoint has cost lately; charged when a run
        # starts, so a slow endpoint loses its priority before its first
        # slow runs have finished, and corrected when each run ends.
        self._typical_ms: dict[Hashable, float] = {}
        self._charged_ms: defaultdict[Hashable, deque[float]] = defaultdict(deque)
        self._clock_ms = 0.0
        self._running: defaultdict[Hashable, int] = defaultdict(int)
        self.running = 0

    @property
    def waiting(self) -> int:
        return sum(len(queue) for queue in self._waiters.values())

    def oldest_wait_ms(self, key: Hashable, now: float) -> float:
        """How long `key`'s longest-waiting request has waited (0 when none waits)."""
        queue = self._waiters.get(key)
        return (now - self._queued_at[queue[0]]) * 1000 if queue else 0.0

    async def acquire(self, key: Hashable) -> None:
        # An endpoint back from idle starts at the shared clock, not at the
        # credit it would have saved up while idle.
        self._used_ms[key] = max(self._used_ms.get(key, 0.0), self._clock_ms)
        ticket: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[key].append(ticket)
        self._queued_at[ticket] = time.monotonic()
        self._hand_over()
        try:
            await ticket
        except asyncio.CancelledError:
            if ticket.done() and not ticket.cancelled():
                self.release(key, cost_ms=0.0)  # granted just as it was cancelled
            elif ticket in self._waiters.get(key, ()):
                self._waiters[key].remove(ticket)
            raise
        finally:
            self._queued_at.pop(ticket, None)

    def release(self, key: Hashable, cost_ms: float) -> None:
        charged = self._charged_ms[key].popleft() if self._charged_ms[key] else 0.0
        self._used_ms[key] = self._used_ms.get(key, self._clock_ms) + cost_ms - charged
        typical = self._typical_ms.get(key)
        self._typical_ms[key] = (
            cost_ms if typical is None else typical + _SMOOTHING * (cost_ms - typical)
        )
        self.running -= 1
        self._running[key] -= 1
        if not self._running[key]:
            del self._running[key]
        self._free += 1
        self._hand_over()

    def _may_take(self, key: Hashable) -> bool:
        limit = self._per_endpoint if key in self._typical_ms else 1
        return self._running.get(key, 0) < limit

    def _take(self, key: Hashable) -> None:
        self._free -= 1
        self.running += 1
        self._running[key] += 1
        self._clock_ms = max(self._clock_ms, self._used_ms[key])
        charge = self._typical_ms.get(key, 0.0)
        self._used_ms[key] += charge
        self._charged_ms[key].append(charge)

    def _hand_over(self) -> None:
        while self._free > 0:
            waiting = [key for key, queue in self._waiters.items() if queue and self._may_take(key)]
            if not waiting:
                return
            key = min(waiting, key=lambda k: self._used_ms[k])
            ticket = self._waiters[key].popleft()
            if not self._waiters[key]:
                del self._waiters[key]
            if not ticket.cancelled():
                self._take(key)
                ticket.set_result(None)
