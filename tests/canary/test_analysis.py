"""The canary verdict, I/O-free: collect, compare, decide."""

from __future__ import annotations

import pytest

from host.canary import AnalysisSettings, ArmTally, Cause, RunTally, VerdictKind, judge
from host.traffic import Arm

SETTINGS = AnalysisSettings(min_requests=100, window_s=60)


def arm(
    requests: int,
    failures: dict[str, int] | None = None,
    latency_ms: float = 10.0,
    fuel: int = 1_000_000,
    memory: int = 10 << 20,
) -> ArmTally:
    tally = ArmTally()
    failing = [name for name, count in (failures or {}).items() for _ in range(count)]
    for n in range(requests):
        outcome = failing[n] if n < len(failing) else "ok"
        tally.add(
            latency_ms=latency_ms,
            outcome=outcome,
            status=500 if outcome != "ok" else 200,
            fuel=fuel,
            memory=memory,
        )
    return tally


def run(stable: ArmTally, candidate: ArmTally) -> RunTally:
    return RunTally({Arm.STABLE: stable, Arm.CANDIDATE: candidate})


def test_too_few_requests_hold_whatever_they_show() -> None:
    verdict = judge(run(arm(900), arm(99, {"guest_error": 99})), SETTINGS, elapsed_s=600)

    assert (verdict.kind, verdict.cause) == (VerdictKind.HOLD, Cause.COLLECTING)
    assert verdict.reasons == ("candidate has 99 of 100 requests",)


def test_a_candidate_failing_thirty_percent_is_rolled_back_before_the_window_ends() -> None:
    verdict = judge(run(arm(900, {"guest_error": 2}), arm(100, {"guest_error": 30})), SETTINGS, 5)

    assert (verdict.kind, verdict.cause) == (VerdictKind.ROLLBACK, Cause.FAILING)
    failed = {check.metric: check for check in verdict.checks if not check.passed}
    assert set(failed) == {"failure_rate:all", "failure_rate:guest_error"}
    assert failed["failure_rate:guest_error"].candidate == 0.3
    assert "failure rate (guest_error): candidate 30.0% vs stable 0.2%" in verdict.reasons[1]
    document = verdict.document(SETTINGS, applied=True)
    assert document["arms"]["candidate"]["failures"] == {"guest_error": 30}
    assert document["settings"]["min_requests"] == 100


def test_a_failure_class_only_the_candidate_has_is_caught() -> None:
    verdict = judge(run(arm(1_000), arm(200, {"timeout": 6})), SETTINGS, 5)

    assert verdict.kind is VerdictKind.ROLLBACK
    assert any(c.metric == "failure_rate:timeout" and not c.passed for c in verdict.checks)


@pytest.mark.parametrize(
    ("candidate", "metric"),
    [
        (arm(200, fuel=1_600_000), "fuel_p99"),
        (arm(200, memory=16 << 20), "memory_p99"),
        (arm(200, latency_ms=16.0), "p99_ms"),
    ],
)
def test_a_costlier_candidate_is_rolled_back(candidate: ArmTally, metric: str) -> None:
    verdict = judge(run(arm(1_000), candidate), SETTINGS, 5)

    assert verdict.kind is VerdictKind.ROLLBACK
    assert [c.metric for c in verdict.checks if not c.passed] == [metric]


def test_latency_within_the_slack_passes() -> None:
    verdict = judge(run(arm(1_000, latency_ms=1.0), arm(200, latency_ms=4.0)), SETTINGS, 5)

    assert verdict.kind is VerdictKind.HOLD


def test_a_healthy_candidate_is_held_through_the_window_then_promoted() -> None:
    healthy = run(arm(1_000, {"guest_error": 10}), arm(150, {"guest_error": 3}))

    during = judge(healthy, SETTINGS, elapsed_s=30)
    after = judge(healthy, SETTINGS, elapsed_s=60)

    assert (during.kind, during.cause) == (VerdictKind.HOLD, Cause.OBSERVING)
    assert (after.kind, after.cause) == (VerdictKind.PROMOTE, Cause.HEALTHY)
    assert all(check.passed for check in after.checks)
    assert {c.metric for c in after.checks} >= {"failure_rate:all", "p99_ms", "fuel_p99"}


def test_thresholds_are_the_endpoints_own() -> None:
    lenient = AnalysisSettings(min_requests=10, window_s=1, max_failure_increase=0.5)

    verdict = judge(run(arm(100), arm(20, {"guest_error": 6})), lenient, 5)

    assert verdict.kind is VerdictKind.PROMOTE


def test_stored_settings_that_do_not_parse_are_the_defaults() -> None:
    assert AnalysisSettings.stored({"window_s": "soon"}) == AnalysisSettings()
    assert AnalysisSettings.stored({"auto": True}).auto is True
