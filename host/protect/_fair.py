"""Fair sharing of the sandbox's CPU slots between endpoints.

At most `slots` scripts execute at once. When every slot is taken, requests
wait in their endpoint's queue, and a freed slot goes to the endpoint that
has used the least CPU time so far (start-time fair queuing): an endpoint
whose scripts run for 500 ms before timing out waits behind one whose
scripts finish in 5 ms, instead of the other way round as in a FIFO queue.
No endpoint may hold more than half the slots, so one endpoint whose
scripts all run to their time limit leaves the other half to its neighbours;
and an endpoint none of whose runs has ended yet holds one slot (a slow
start), so that endpoints whose cost nobody knows, such as scripts that
block until their deadline, cannot take all the slots with their first burst.
Long turns share half the slots: endpoints whose turns typically hold a slot
longer than `long_turn_ms` (scripts that run to their fuel or time limit)
together hold at most half of them, so two or three such endpoints cannot
take every slot between them either, and the other half serves the short
turns at once. Slots are not cores, though: a long turn also yields the CPU
while others hold or want slots (host.sandbox._deadline).

Waiting is not running: a script blocked in a backend call or on a timer
`pause`s, giving its slot to the next request while it waits, and `resume`s
when its answer is back. A resuming script takes a slot at once, even when
that puts more scripts running than there are slots: its wall-clock deadline
kept running while it waited, and it must not lose it queueing behind scripts
that hold their slots for long (it held one, before it waited). New requests
then start only once fewer than `slots` run. Only the time a script holds a
slot is charged. A paused script still holds its instance's memory, so
`capacity` bounds how many are alive at once, running or paused (half of it
for one endpoint); a new request starts only below it.

An endpoint whose circuit breaker opens is `withdraw`n: its requests still
waiting for a slot are not run (each would fail as the ones that tripped the
breaker did, holding a slot as long), their `acquire` raises `Withdrawn`.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Hashable
from dataclasses import dataclass, field

_SMOOTHING = 0.3
# A turn this long is twenty times a typical script's whole run.
LONG_TURN_MS = 100.0


class Withdrawn(Exception):
    """The request's endpoint was withdrawn from the gate while the request waited."""


@dataclass(eq=False, slots=True)
class _Ticket:
    key: Hashable
    queued_at: float
    granted: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    withdrawn: bool = False


class FairGate:
    def __init__(
        self, slots: int, capacity: int | None = None, long_turn_ms: float = LONG_TURN_MS
    ) -> None:
        self.slots = slots
        self.long_turn_ms = long_turn_ms
        self.capacity = max(slots, capacity or slots)
        self._free = slots
        self._per_endpoint = max(1, slots // 2)
        self._alive_per_endpoint = max(1, self.capacity // 2)
        self._waiters: defaultdict[Hashable, deque[_Ticket]] = defaultdict(deque)
        # CPU milliseconds each endpoint has been charged, on a shared clock.
        self._used_ms: dict[Hashable, float] = {}
        # What a slot's turn of each endpoint has cost lately; charged when a
        # turn starts, so a slow endpoint loses its priority before its first
        # slow runs have finished, and corrected when each turn ends.
        self._typical_ms: dict[Hashable, float] = {}
        self._charged_ms: defaultdict[Hashable, deque[float]] = defaultdict(deque)
        self._clock_ms = 0.0
        self._running: defaultdict[Hashable, int] = defaultdict(int)
        # Slots held by endpoints whose turns take long (see _takes_long).
        self._running_long = 0
        self._alive: defaultdict[Hashable, int] = defaultdict(int)
        # Granted a slot, their tasks not yet resumed: a withdrawal still reaches them.
        self._granted: set[_Ticket] = set()
        self.running = 0
        self.alive = 0
        self.waiting = 0

    @property
    def paused(self) -> int:
        """Scripts alive but not holding a slot: waiting on a backend."""
        return self.alive - self.running

    def oldest_wait_ms(self, key: Hashable, now: float) -> float:
        """How long `key`'s longest-waiting request has waited (0 when none waits)."""
        queue = self._waiters.get(key)
        return (now - queue[0].queued_at) * 1000 if queue else 0.0

    async def acquire(self, key: Hashable) -> None:
        """A slot for a new run of `key`'s script."""
        # An endpoint back from idle starts at the shared clock, not at the
        # credit it would have saved up while idle.
        self._used_ms[key] = max(self._used_ms.get(key, 0.0), self._clock_ms)
        ticket = _Ticket(key, queued_at=time.monotonic())
        self._waiters[key].append(ticket)
        self.waiting += 1
        await self._wait(ticket)

    def resume(self, key: Hashable) -> None:
        """A paused run of `key`'s script runs again: it takes a slot at once."""
        self._free -= 1
        self._hold(key)

    def pause(self, key: Hashable, cost_ms: float) -> None:
        """A running script waits: its slot goes to another, it stays alive."""
        self._give_back(key, cost_ms)
        self._hand_over()

    def release(self, key: Hashable, cost_ms: float) -> None:
        """A running script has ended: its slot and its place among the alive are free."""
        self._give_back(key, cost_ms)
        self._leave(key)
        self._hand_over()

    def withdraw(self, key: Hashable) -> int:
        """Refuse every request of `key` still waiting for a slot; how many there were."""
        granted = [ticket for ticket in self._granted if ticket.key == key]
        for ticket in granted:
            ticket.withdrawn = True
        queue = self._waiters.pop(key, None) or deque()
        self.waiting -= len(queue)
        for ticket in queue:
            if not ticket.granted.done():
                ticket.granted.set_exception(Withdrawn())
        return len(granted) + len(queue)

    def leave(self, key: Hashable) -> None:
        """A paused script has ended without resuming."""
        self._leave(key)
        self._hand_over()

    async def _wait(self, ticket: _Ticket) -> None:
        self._hand_over()
        try:
            await ticket.granted
        except asyncio.CancelledError:
            if ticket.granted.done() and not ticket.granted.cancelled():
                # Granted just as it was cancelled: give back what it got.
                self._granted.discard(ticket)
                self.release(ticket.key, 0.0)
            else:
                self._forget(ticket)
            raise
        self._granted.discard(ticket)
        if ticket.withdrawn:
            self.release(ticket.key, 0.0)
            raise Withdrawn()

    def _forget(self, ticket: _Ticket) -> None:
        queue = self._waiters.get(ticket.key)
        if queue is not None and ticket in queue:
            queue.remove(ticket)
            self.waiting -= 1
            if not queue:
                del self._waiters[ticket.key]

    def _give_back(self, key: Hashable, cost_ms: float) -> None:
        charged = self._charged_ms[key].popleft() if self._charged_ms[key] else 0.0
        self._used_ms[key] = self._used_ms.get(key, self._clock_ms) + cost_ms - charged
        self._count_running(key, -1)
        self._learn_turn(key, cost_ms)
        self._free += 1

    def _count_running(self, key: Hashable, change: int) -> None:
        self.running += change
        self._running[key] += change
        if self._takes_long(key):
            self._running_long += change
        if not self._running[key]:
            del self._running[key]

    def _learn_turn(self, key: Hashable, cost_ms: float) -> None:
        """Fold a turn's cost into what `key`'s turns typically cost."""
        was_long = self._takes_long(key)
        typical = self._typical_ms.get(key)
        self._typical_ms[key] = (
            cost_ms if typical is None else typical + _SMOOTHING * (cost_ms - typical)
        )
        if self._takes_long(key) != was_long:
            # The endpoint's turns still running change sides with it.
            still_running = self._running.get(key, 0)
            self._running_long += -still_running if was_long else still_running

    def _leave(self, key: Hashable) -> None:
        self.alive -= 1
        self._alive[key] -= 1
        if not self._alive[key]:
            del self._alive[key]

    def _may_run(self, key: Hashable) -> bool:
        limit = self._per_endpoint if key in self._typical_ms else 1
        if self._running.get(key, 0) >= limit:
            return False
        return not self._takes_long(key) or self._running_long < self._per_endpoint

    def _takes_long(self, key: Hashable) -> bool:
        return self._typical_ms.get(key, 0.0) > self.long_turn_ms

    def _may_start(self, key: Hashable) -> bool:
        return (
            self.alive < self.capacity
            and self._alive.get(key, 0) < self._alive_per_endpoint
            and self._may_run(key)
        )

    def _take(self, ticket: _Ticket) -> None:
        key = ticket.key
        self._free -= 1
        self.alive += 1
        self._alive[key] += 1
        self._hold(key)
        ticket.granted.set_result(None)
        self._granted.add(ticket)

    def _hold(self, key: Hashable) -> None:
        """`key` holds one more slot: charged what its turns typically cost."""
        self._count_running(key, 1)
        self._clock_ms = max(self._clock_ms, self._used_ms.get(key, self._clock_ms))
        charge = self._typical_ms.get(key, 0.0)
        self._used_ms[key] = self._used_ms.get(key, self._clock_ms) + charge
        self._charged_ms[key].append(charge)

    def _next_new(self) -> _Ticket | None:
        eligible = [key for key, queue in self._waiters.items() if queue and self._may_start(key)]
        if not eligible:
            return None
        key = min(eligible, key=lambda k: self._used_ms[k])
        ticket = self._waiters[key].popleft()
        self.waiting -= 1
        if not self._waiters[key]:
            del self._waiters[key]
        return ticket

    def _hand_over(self) -> None:
        while self._free > 0:
            ticket = self._next_new()
            if ticket is None:
                return
            if not ticket.granted.cancelled():
                self._take(ticket)
