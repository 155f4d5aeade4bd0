"""Pacing refusals: a client that asks again the moment it is refused is answered slowly.

A closed-loop client (a device retrying in a tight loop, a load generator)
sends its next request as soon as the last one is answered. Answered at
once, a few such clients make the host refuse an endpoint whose breaker is
open thousands of times a second, each refusal costing as much framing,
logging and event-loop time as a served request, on the cores the
endpoint's neighbours need. So a refusal that says when to come back is
held before it is sent: until the moment it names, and never longer than
`max_hold_s`. A held refusal waits on a timer and costs nothing while it
waits, so each such connection costs the host at most one refusal per
`max_hold_s`. It still holds its connection and a task, so at most
`max_held` refusals are held at once; beyond that they are sent at once.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class RefusalPacer:
    max_hold_s: float = 1.0
    max_held: int = 1000
    held: int = 0
    # Refusals sent at once because `max_held` were already held.
    unpaced: int = 0

    def hold(self, retry_after_s: float) -> float:
        """Seconds to hold a refusal whose client may retry in `retry_after_s` (0: send now).

        A positive answer takes one of the `max_held` places; `release` gives it back.
        """
        seconds = min(retry_after_s, self.max_hold_s)
        if seconds <= 0:
            return 0.0
        if self.held >= self.max_held:
            self.unpaced += 1
            return 0.0
        self.held += 1
        return seconds

    def release(self) -> None:
        """A held refusal has been sent (or its connection has gone)."""
        self.held -= 1
