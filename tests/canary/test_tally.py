from __future__ import annotations

from host.canary import CanaryTallies, merged
from host.traffic import Arm, Selection

KEY = ("tv", "/home")
STABLE = Selection("v1", Arm.STABLE, "run-1")
CANDIDATE = Selection("v2", Arm.CANDIDATE, "run-1")


def record(
    tallies: CanaryTallies, selection: Selection, outcome: str = "ok", status: int = 200
) -> None:
    tallies.record(
        KEY, selection, latency_ms=4.0, outcome=outcome, status=status, fuel=1_000, memory=1 << 20
    )


def test_only_the_splits_arms_are_counted() -> None:
    tallies = CanaryTallies()
    record(tallies, STABLE)
    record(tallies, CANDIDATE, "guest_error", 500)
    record(tallies, CANDIDATE, "ok", 503)
    record(tallies, Selection("v3", Arm.PINNED, None))
    record(tallies, Selection("v1", Arm.STABLE, None))

    report = tallies.report((KEY, "run-1"))

    assert report is not None
    assert (report["stable"]["requests"], report["candidate"]["requests"]) == (1, 2)
    assert report["candidate"]["failures"] == {"guest_error": 1, "http_5xx": 1}
    assert report["stable"]["failures"] == {}


def test_reports_of_several_hosts_add_up() -> None:
    hosts = [CanaryTallies() for _ in range(3)]
    for n, tallies in enumerate(hosts):
        for _ in range(n + 1):
            record(tallies, CANDIDATE, "timeout", 504)
        record(tallies, STABLE)
    reports = [tallies.report((KEY, "run-1")) for tallies in hosts]

    total = merged([report for report in reports if report is not None] + [{"junk": 1}])

    assert total.arms[Arm.CANDIDATE].requests == 6
    assert total.arms[Arm.CANDIDATE].failures == {"timeout": 6}
    assert total.arms[Arm.STABLE].requests == 3
    assert total.arms[Arm.STABLE].fuel.total == 3


def test_ended_runs_are_forgotten() -> None:
    tallies = CanaryTallies()
    record(tallies, CANDIDATE)
    record(tallies, Selection("v2", Arm.CANDIDATE, "run-2"))

    tallies.keep_only({(KEY, "run-2")})

    assert tallies.report((KEY, "run-1")) is None
    assert tallies.report((KEY, "run-2")) is not None
