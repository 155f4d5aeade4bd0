"""A circuit breaker per endpoint: a storm of resource failures opens it for a while.

Closed: every request runs, and the outcomes of the last `window_s` seconds
are counted. When at least `min_failures` of them are resource failures
(fuel, timeout, memory) and they are at least `failure_ratio` of all, the
breaker opens: requests are refused at once for `cooldown_s`. Then it is
half-open: one probe request runs; its success closes the breaker, its
failure opens it again for twice as long (up to `max_cooldown_s`).

Resource failures are the expensive kind: each one held a worker for its
whole fuel or time quota. So a handful is enough to trip the breaker.

In a host of several processes each keeps its own breakers, and one that
trips tells the others (`follow`): they open theirs without failing five
times each first, and stay open one base cooldown longer than the one that
tripped, which probes first. Its probe's failure is a new trip, told and
followed again; its success is told too (`recover`), and closes theirs. So
a host sends one probe per cooldown, not one per process; a follower probes
on its own only if nothing is heard by its later deadline.

The window costs the same whatever the traffic: outcomes are counted in
`_BUCKETS` buckets of a tenth of the window each, with running totals, so
recording one is O(1) and keeps nothing per request. An outcome is forgotten
when its bucket leaves the window: after between nine and ten tenths of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    window_s: float = 10.0
    min_failures: int = 5
    failure_ratio: float = 0.5
    cooldown_s: float = 5.0
    max_cooldown_s: float = 60.0


@dataclass(slots=True)
class CircuitBreaker:
    policy: BreakerPolicy = field(default_factory=BreakerPolicy)
    state: BreakerState = BreakerState.CLOSED
    opened_at: float = 0.0
    # While open: the time requests run again (a probe first).
    open_until: float = 0.0
    # Trips of its own: openings that followed a sibling's are not counted.
    trips: int = 0
    # Trips in a row without a successful probe between them.
    consecutive_trips: int = 0
    _window: _BucketWindow = field(init=False)
    _probe_in_flight: bool = False

    def __post_init__(self) -> None:
        self._window = _BucketWindow(self.policy.window_s / _BUCKETS)

    def admit(self, now: float) -> float | None:
        """None if a request may run now; otherwise the seconds until it may."""
        if self.state is BreakerState.OPEN:
            remaining = self.open_until - now
            if remaining > 0:
                return remaining
            self.state = BreakerState.HALF_OPEN
        if self.state is BreakerState.HALF_OPEN:
            if self._probe_in_flight:
                return self.policy.cooldown_s
            self._probe_in_flight = True
        return None

    def cancel_probe(self) -> None:
        """An admitted request did not run after all; let another be the probe."""
        self._probe_in_flight = False

    def record(self, now: float, *, resource_failure: bool) -> bool:
        """Count an outcome; True when this outcome tripped the breaker open."""
        if self.state is BreakerState.HALF_OPEN:
            self._probe_in_flight = False
            if resource_failure:
                return self._open(now)
            self._close()
            return False
        if self.state is BreakerState.OPEN:
            return False
        window = self._window
        window.count(now, resource_failure)
        failures = window.failures
        if failures >= self.policy.min_failures and failures >= (
            self.policy.failure_ratio * window.outcomes
        ):
            return self._open(now)
        return False

    def follow(self, now: float, cooldown_s: float) -> bool:
        """A sibling process's breaker for this endpoint opened for `cooldown_s`: stay open
        until then and one base cooldown more, while the sibling probes. True if that
        opened this breaker or kept it open longer.

        The seconds are capped at the policy's longest cooldown, and an opening
        never shortens one: an open breaker keeps the later of the two
        deadlines. Following is no trip of this breaker's own, so whoever calls
        it tells nobody (a trip never echoes back), and `trips` does not count
        it; `consecutive_trips` does, so a failed probe here doubles the pause
        as the sibling's own failed probe would.
        """
        seconds = min(cooldown_s, self.policy.max_cooldown_s)
        if not seconds > 0:  # NaN as well
            return False
        until = now + seconds + self.policy.cooldown_s
        if self.state is BreakerState.OPEN and self.open_until > now:
            if until <= self.open_until:
                return False
            self.open_until = until
            return True
        # Closed, half-open or its cooldown just over: a probe in flight now ends
        # while open, and is not counted (as any run admitted before an opening).
        self._probe_in_flight = False
        self.state = BreakerState.OPEN
        self.opened_at = now
        self.open_until = until
        self.consecutive_trips += 1
        self._window.clear()
        return True

    def recover(self) -> bool:
        """A sibling process's probe of this endpoint succeeded: close, as after a probe of
        this breaker's own. True if this breaker was open or half-open."""
        if self.state is BreakerState.CLOSED:
            return False
        self._close()
        return True

    @property
    def cooldown_s(self) -> float:
        doubled = self.policy.cooldown_s * 2.0 ** max(0, self.consecutive_trips - 1)
        return min(self.policy.max_cooldown_s, doubled)

    def _close(self) -> None:
        self.state = BreakerState.CLOSED
        self._probe_in_flight = False
        self.consecutive_trips = 0
        self._window.clear()

    def _open(self, now: float) -> bool:
        self.state = BreakerState.OPEN
        self.opened_at = now
        self.trips += 1
        self.consecutive_trips += 1
        self.open_until = now + self.cooldown_s
        self._window.clear()
        return True


_BUCKETS = 10


class _BucketWindow:
    """Outcomes and failures of the last `_BUCKETS` buckets of `width_s` seconds each."""

    __slots__ = ("_failures", "_newest", "_outcomes", "failures", "outcomes", "width_s")

    def __init__(self, width_s: float) -> None:
        self.width_s = width_s
        self._outcomes = [0] * _BUCKETS
        self._failures = [0] * _BUCKETS
        # The number (time // width) of the newest bucket counted so far.
        self._newest = -math.inf
        self.outcomes = 0
        self.failures = 0

    def count(self, now: float, failure: bool) -> None:
        bucket = math.floor(now / self.width_s)
        if bucket <= self._newest - _BUCKETS:
            return  # Reported after its bucket left the window.
        self._advance_to(bucket)
        slot = bucket % _BUCKETS
        self._outcomes[slot] += 1
        self.outcomes += 1
        if failure:
            self._failures[slot] += 1
            self.failures += 1

    def clear(self) -> None:
        self._outcomes = [0] * _BUCKETS
        self._failures = [0] * _BUCKETS
        self.outcomes = self.failures = 0

    def _advance_to(self, bucket: int) -> None:
        """Forget the buckets that `bucket` pushes out of the window (at most all of them)."""
        if bucket <= self._newest:
            return
        if bucket - self._newest >= _BUCKETS:
            self.clear()
        else:
            for stale in range(int(self._newest) + 1, bucket + 1):
                slot = stale % _BUCKETS
                self.outcomes -= self._outcomes[slot]
                self.failures -= self._failures[slot]
                self._outcomes[slot] = self._failures[slot] = 0
        self._newest = bucket
