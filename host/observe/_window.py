"""Recent traffic per endpoint, in memory, for the stats API and the console."""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from host.protect import EndpointKey

WINDOW_SECONDS = 300.0
_MAX_SAMPLES = 20_000
_RATE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    latency_ms: float
    status: int
    outcome: str
    fuel: int
    memory: int | None


@dataclass
class EndpointWindow:
    samples: deque[Sample] = field(default_factory=lambda: deque(maxlen=_MAX_SAMPLES))

    @classmethod
    def of(cls, samples: Iterable[Sample]) -> EndpointWindow:
        return cls(deque(samples, maxlen=_MAX_SAMPLES))

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    def summary(self, now: float) -> dict[str, object]:
        recent = [s for s in self.samples if s.at >= now - WINDOW_SECONDS]
        last_minute = [s for s in recent if s.at >= now - _RATE_SECONDS]
        outcomes = Counter(s.outcome for s in recent)
        ran = [s for s in recent if s.fuel > 0]
        memory = [s.memory for s in ran if s.memory is not None]
        return {
            "requests": len(recent),
            "rps": round(len(last_minute) / _RATE_SECONDS, 3),
            "p50_ms": _percentile([s.latency_ms for s in recent], 50),
            "p99_ms": _percentile([s.latency_ms for s in recent], 99),
            "error_rate": round(1 - outcomes["ok"] / len(recent), 4) if recent else 0.0,
            "outcomes": dict(outcomes),
            "fuel_p50": _percentile([float(s.fuel) for s in ran], 50),
            "fuel_p99": _percentile([float(s.fuel) for s in ran], 99),
            "memory_p50": _percentile([float(m) for m in memory], 50),
            "memory_p99": _percentile([float(m) for m in memory], 99),
            "series": _per_second(recent, now),
        }


def merge_windows(
    parts: Iterable[Mapping[EndpointKey, EndpointWindow]],
) -> dict[EndpointKey, EndpointWindow]:
    """One window per endpoint over several processes' (no sample cap: each part has its own)."""
    samples: dict[EndpointKey, list[Sample]] = {}
    for part in parts:
        for key, window in part.items():
            samples.setdefault(key, []).extend(window.samples)
    return {
        key: EndpointWindow(deque(sorted(rows, key=lambda sample: sample.at)))
        for key, rows in samples.items()
    }


def _percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))
    return round(ordered[index], 3)


def _per_second(samples: list[Sample], now: float, seconds: int = 60) -> list[dict[str, float]]:
    """The last minute, one point per second: requests, errors, worst latency."""
    points = [{"requests": 0.0, "errors": 0.0, "max_ms": 0.0} for _ in range(seconds)]
    for sample in samples:
        age = int(now - sample.at)
        if 0 <= age < seconds:
            point = points[seconds - 1 - age]
            point["requests"] += 1
            point["errors"] += sample.outcome != "ok"
            point["max_ms"] = max(point["max_ms"], round(sample.latency_ms, 1))
    return points
