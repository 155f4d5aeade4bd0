"""Load shedding: refuse at once when the sandbox queue is deep or too slow to drain.

A request that would wait behind a deep queue ends in a timeout anyway, after
holding a connection and memory; answering 503 at once keeps the host
responsive and lets clients back off. The queue is judged by its depth and by
how long recent requests waited in it (an exponentially weighted mean).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class LoadShedder:
    workers: int
    max_queue: int
    latency_budget_ms: float
    smoothing: float = 0.2
    queue_wait_ms: float = 0.0

    def admit(self, in_flight: int) -> bool:
        queued = in_flight - self.workers
        if queued >= self.max_queue:
            return False
        return queued < 0 or self.queue_wait_ms <= self.latency_budget_ms

    def record_queue_wait(self, waited_ms: float) -> None:
        self.queue_wait_ms += self.smoothing * (waited_ms - self.queue_wait_ms)
