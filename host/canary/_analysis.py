"""The canary verdict: compare the candidate with the stable version over the same run.

I/O-free: given the fleet's tally of a run (`merged` reports), the settings
and how long the run has served, `judge` says `promote`, `hold` or
`rollback`, with every check it made, which is the evidence recorded.

- Until both arms have `min_requests`, the verdict is `hold` (collecting).
- A candidate worse than the stable version on any check is rolled back
  at once, without waiting for the window: for each failure class (and all
  of them together) its rate may exceed the stable rate by at most
  `max_failure_increase`; its p99 latency, fuel and peak memory may be at
  most `max_*_ratio` times the stable's (latency also gets `LATENCY_SLACK_MS`,
  so a 1 ms script is not judged on scheduling noise).
- A candidate that passes every check is held until it has served
  `window_s` seconds, then promoted.

Thresholds and the minimum sample are per endpoint (`AnalysisSettings`, part
of its traffic policy); the analysis applies its verdicts only when `auto`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from host.canary._tally import ArmTally, RunTally
from host.traffic import Arm

LATENCY_SLACK_MS = 5.0
ALL_FAILURES = "all"


class AnalysisSettings(BaseModel, extra="forbid"):
    """How an endpoint's canaries are judged: declared once, for the API, the CLI and the judge."""

    auto: bool = Field(
        default=False,
        description="Apply verdicts without a person: promote a healthy canary, roll back a"
        " failing one. Off: verdicts are shown and recorded only.",
    )
    window_s: int = Field(
        default=300,
        ge=1,
        le=7 * 86_400,
        description="Seconds a healthy canary serves before it is promoted.",
    )
    min_requests: int = Field(
        default=100,
        ge=1,
        le=10_000_000,
        description="Requests each version needs in the run before any verdict but hold.",
    )
    max_failure_increase: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="How much the candidate's rate of any failure class may exceed the"
        " stable's (0.02: by 2 percentage points).",
    )
    max_latency_ratio: float = Field(
        default=1.5, ge=1, le=100, description="Candidate p99 latency / stable p99, at most."
    )
    max_fuel_ratio: float = Field(
        default=1.5, ge=1, le=100, description="Candidate p99 fuel / stable p99, at most."
    )
    max_memory_ratio: float = Field(
        default=1.5,
        ge=1,
        le=100,
        description="Candidate p99 peak memory / stable p99, at most.",
    )

    @classmethod
    def stored(cls, analysis: object) -> AnalysisSettings:
        """The settings a policy holds (checked when set); the defaults if they do not parse."""
        try:
            return cls.model_validate(analysis)
        except ValidationError:
            return cls()


class VerdictKind(StrEnum):
    PROMOTE = "promote"
    HOLD = "hold"
    ROLLBACK = "rollback"


class Cause(StrEnum):
    COLLECTING = "collecting"
    OBSERVING = "observing"
    HEALTHY = "healthy"
    FAILING = "failing"


@dataclass(frozen=True, slots=True)
class Check:
    metric: str
    stable: float | None
    candidate: float | None
    limit: float
    passed: bool

    def document(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "stable": self.stable,
            "candidate": self.candidate,
            "limit": self.limit,
            "passed": self.passed,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    kind: VerdictKind
    cause: Cause
    reasons: tuple[str, ...]
    checks: tuple[Check, ...]
    arms: dict[str, dict[str, Any]]
    elapsed_s: float

    def document(self, settings: AnalysisSettings, **facts: object) -> dict[str, Any]:
        """The verdict with its evidence, as recorded and shown."""
        return {
            "verdict": self.kind.value,
            "cause": self.cause.value,
            "reasons": list(self.reasons),
            "checks": [check.document() for check in self.checks],
            "arms": self.arms,
            "elapsed_s": round(self.elapsed_s, 1),
            "settings": settings.model_dump(),
            **facts,
        }


def judge(tally: RunTally, settings: AnalysisSettings, elapsed_s: float) -> Verdict:
    stable, candidate = tally.arms[Arm.STABLE], tally.arms[Arm.CANDIDATE]
    checks = tuple(_checks(stable, candidate, settings))
    arms = {Arm.STABLE.value: summary(stable), Arm.CANDIDATE.value: summary(candidate)}

    def verdict(kind: VerdictKind, cause: Cause, *reasons: str) -> Verdict:
        return Verdict(kind, cause, reasons, checks, arms, elapsed_s)

    short = [
        f"{arm.value} has {tally.arms[arm].requests} of {settings.min_requests} requests"
        for arm in (Arm.STABLE, Arm.CANDIDATE)
        if tally.arms[arm].requests < settings.min_requests
    ]
    if short:
        return verdict(VerdictKind.HOLD, Cause.COLLECTING, *short)
    failed = [_explain(check) for check in checks if not check.passed]
    if failed:
        return verdict(VerdictKind.ROLLBACK, Cause.FAILING, *failed)
    if elapsed_s < settings.window_s:
        remaining = settings.window_s - elapsed_s
        return verdict(
            VerdictKind.HOLD,
            Cause.OBSERVING,
            f"every check passes; promoting when the window ends in {remaining:.0f} s",
        )
    return verdict(
        VerdictKind.PROMOTE,
        Cause.HEALTHY,
        f"every check passed over {elapsed_s:.0f} s (window {settings.window_s} s)",
    )


def summary(arm: ArmTally) -> dict[str, Any]:
    failures = sum(arm.failures.values())
    return {
        "requests": arm.requests,
        "failures": dict(sorted(arm.failures.items())),
        "failure_rate": _rate(failures, arm.requests),
        "p50_ms": _round(arm.latency_ms.quantile(0.5)),
        "p99_ms": _round(arm.latency_ms.quantile(0.99)),
        "fuel_p99": _round(arm.fuel.quantile(0.99)),
        "memory_p99": _round(arm.memory.quantile(0.99)),
    }


def _checks(stable: ArmTally, candidate: ArmTally, settings: AnalysisSettings) -> list[Check]:
    if not stable.requests or not candidate.requests:
        return []
    compared = [
        _ratio_check(
            "p99_ms",
            stable.latency_ms.quantile(0.99),
            candidate.latency_ms.quantile(0.99),
            settings.max_latency_ratio,
            slack=LATENCY_SLACK_MS,
        ),
        _ratio_check(
            "fuel_p99",
            stable.fuel.quantile(0.99),
            candidate.fuel.quantile(0.99),
            settings.max_fuel_ratio,
        ),
        _ratio_check(
            "memory_p99",
            stable.memory.quantile(0.99),
            candidate.memory.quantile(0.99),
            settings.max_memory_ratio,
        ),
    ]
    return _failure_checks(stable, candidate, settings) + [c for c in compared if c is not None]


def _failure_checks(
    stable: ArmTally, candidate: ArmTally, settings: AnalysisSettings
) -> list[Check]:
    """One check for all failures together, and one per failure class either arm had."""
    counts = {ALL_FAILURES: (sum(stable.failures.values()), sum(candidate.failures.values()))}
    for name in sorted(set(stable.failures) | set(candidate.failures)):
        counts[name] = (stable.failures[name], candidate.failures[name])
    checks = []
    for name, (stable_count, candidate_count) in counts.items():
        stable_rate = _rate(stable_count, stable.requests)
        candidate_rate = _rate(candidate_count, candidate.requests)
        limit = round(stable_rate + settings.max_failure_increase, 4)
        passed = candidate_rate <= limit
        checks.append(Check(f"failure_rate:{name}", stable_rate, candidate_rate, limit, passed))
    return checks


def _ratio_check(
    metric: str, stable: float | None, candidate: float | None, ratio: float, slack: float = 0.0
) -> Check | None:
    if stable is None or candidate is None or stable <= 0:
        return None
    limit = round(max(stable * ratio, stable + slack), 3)
    return Check(metric, _round(stable), _round(candidate), limit, candidate <= limit)


def _explain(check: Check) -> str:
    if check.metric.startswith("failure_rate:"):
        name = check.metric.removeprefix("failure_rate:")
        return (
            f"failure rate ({name}): candidate {_percent(check.candidate)}"
            f" vs stable {_percent(check.stable)}, at most {_percent(check.limit)}"
        )
    return (
        f"{check.metric}: candidate {check.candidate} vs stable {check.stable},"
        f" at most {check.limit}"
    )


def _rate(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%"


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
