"""Load shedding: refuse at once when the sandbox queue is deep or too slow to drain.

A request that would wait behind a deep queue ends in a timeout anyway, after
holding a connection and memory; answering 503 at once keeps the host
responsive and lets clients back off. Two signals, as in fq_codel: the whole
queue's depth, and how long the oldest waiting request *of the same
endpoint* has waited (its sojourn time). The fair gate serves light
endpoints first, so it is the heavy endpoint's queue that stops draining and
the heavy endpoint that is shed, while its neighbours keep their share.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LoadShedder:
    max_queue: int
    # None: half of the endpoint's wall-clock quota, the point past which a
    # queued request is more likely to time out than to be served.
    latency_budget_ms: float | None = None

    def admit(self, queued: int, own_oldest_wait_ms: float, timeout_ms: int) -> bool:
        budget = self.latency_budget_ms if self.latency_budget_ms is not None else timeout_ms / 2
        return queued < self.max_queue and own_oldest_wait_ms <= budget
