"""What one host saw of a canary run: per arm (stable, candidate), requests, failures by
class, latency, fuel and peak memory, since the run started.

Only requests the split placed count (pinned ones are a device class, not a
sample), and both arms count over the same time on the same host: the
comparison is between equals. A report is cumulative, so a host that
restarts reports anew under a new name and both its reports count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from host.canary._histogram import LogHistogram
from host.traffic import Arm, Selection

EndpointKey = tuple[str, str]
RunKey = tuple[EndpointKey, str]
"""An endpoint and one of its canary runs."""

HTTP_5XX = "http_5xx"
"""The failure class of a script's own answer with a 5xx status."""
_ARMS = (Arm.STABLE, Arm.CANDIDATE)


@dataclass
class ArmTally:
    requests: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    latency_ms: LogHistogram = field(default_factory=LogHistogram)
    fuel: LogHistogram = field(default_factory=LogHistogram)
    memory: LogHistogram = field(default_factory=LogHistogram)

    def add(
        self, *, latency_ms: float, outcome: str, status: int, fuel: int, memory: int | None
    ) -> None:
        self.requests += 1
        failure = outcome if outcome != "ok" else HTTP_5XX if status >= 500 else None
        if failure is not None:
            self.failures[failure] += 1
        self.latency_ms.add(latency_ms)
        self.fuel.add(fuel)
        if memory is not None:
            self.memory.add(memory)

    def merge(self, other: ArmTally) -> None:
        self.requests += other.requests
        self.failures.update(other.failures)
        self.latency_ms.merge(other.latency_ms)
        self.fuel.merge(other.fuel)
        self.memory.merge(other.memory)

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failures": dict(sorted(self.failures.items())),
            "latency_ms": self.latency_ms.to_json(),
            "fuel": self.fuel.to_json(),
            "memory": self.memory.to_json(),
        }

    @classmethod
    def from_json(cls, document: object) -> ArmTally:
        """An arm from a report; a malformed part counts as nothing."""
        if not isinstance(document, Mapping):
            return cls()
        requests = document.get("requests")
        return cls(
            requests=requests if isinstance(requests, int) and requests > 0 else 0,
            failures=Counter(
                {
                    str(name): count
                    for name, count in _mapping(document.get("failures")).items()
                    if isinstance(count, int) and count > 0
                }
            ),
            latency_ms=LogHistogram.from_json(_mapping(document.get("latency_ms"))),
            fuel=LogHistogram.from_json(_mapping(document.get("fuel"))),
            memory=LogHistogram.from_json(_mapping(document.get("memory"))),
        )


@dataclass
class RunTally:
    arms: dict[Arm, ArmTally] = field(default_factory=lambda: {arm: ArmTally() for arm in _ARMS})

    def to_json(self) -> dict[str, Any]:
        return {arm.value: self.arms[arm].to_json() for arm in _ARMS}


def merged(reports: Iterable[Mapping[str, object]]) -> RunTally:
    """The fleet's tally: every host's report added up."""
    total = RunTally()
    for report in reports:
        for arm in _ARMS:
            total.arms[arm].merge(ArmTally.from_json(report.get(arm.value)))
    return total


class CanaryTallies:
    """This host's tallies of the canary runs it serves."""

    def __init__(self) -> None:
        self._runs: dict[RunKey, RunTally] = {}

    def record(
        self,
        key: EndpointKey,
        selection: Selection,
        *,
        latency_ms: float,
        outcome: str,
        status: int,
        fuel: int,
        memory: int | None,
    ) -> None:
        if selection.canary_id is None or selection.arm not in _ARMS:
            return
        run = (key, selection.canary_id)
        tally = self._runs.get(run)
        if tally is None:
            tally = self._runs[run] = RunTally()
        tally.arms[selection.arm].add(
            latency_ms=latency_ms, outcome=outcome, status=status, fuel=fuel, memory=memory
        )

    def report(self, run: RunKey) -> dict[str, Any] | None:
        tally = self._runs.get(run)
        return None if tally is None else tally.to_json()

    def keep_only(self, live: set[RunKey]) -> None:
        """Forget runs that ended: their route no longer has them."""
        for run in [run for run in self._runs if run not in live]:
            del self._runs[run]


def _mapping(value: object) -> Mapping[str, object]:
    return value if isinstance(value, Mapping) else {}
