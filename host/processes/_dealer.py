"""Which process gets the next connection the parent accepts: the I/O-free policy.

The ready processes take connections in turn (round robin), as Node's cluster
module deals them. Counting each process's open connections instead was
tried and dropped: the counts lagged, because a connection its client closed
stayed open until its keep-alive timeout ran out (5 s; `_connections` now
closes it at once), and a burst of new connections went 11/5 instead of 8/8.
"""

from __future__ import annotations

from collections.abc import Container

# Which of the host's processes: its index among them, kept by its replacement.
Slot = int


class Dealer:
    def __init__(self) -> None:
        self._ready: set[Slot] = set()
        self._last: Slot = -1

    @property
    def any_ready(self) -> bool:
        return bool(self._ready)

    def ready(self, slot: Slot) -> None:
        self._ready.add(slot)

    def gone(self, slot: Slot) -> None:
        self._ready.discard(slot)

    def choose(self, excluding: Container[Slot] = ()) -> Slot | None:
        """The process to hand the next connection to, or None if none is ready."""
        candidates = sorted(slot for slot in self._ready if slot not in excluding)
        if not candidates:
            return None
        chosen = next((slot for slot in candidates if slot > self._last), candidates[0])
        self._last = chosen
        return chosen
