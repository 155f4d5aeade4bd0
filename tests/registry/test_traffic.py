"""Contract: traffic policies, canary runs, verdicts and reports."""

from __future__ import annotations

import pytest

from registry import (
    Action,
    CanaryEnd,
    ClassRule,
    Conflict,
    NotFound,
    Registry,
    TrafficPolicy,
)

TV_RULE = ClassRule("x-device-class", ("tv",), "v1")


@pytest.fixture
async def feed(registry: Registry, module_hash: str) -> Registry:
    """An endpoint with three versions, v1 active."""
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    for _ in range(3):
        await registry.add_version(
            "team", "/feed", language="js", module_hash=module_hash, author="ana"
        )
    await registry.activate("team", "/feed", "v1", actor="ana")
    return registry


async def actions_since(registry: Registry, seq: int) -> list[Action]:
    return [change.action for change in await registry.changes_since(seq)]


async def test_an_endpoint_starts_with_every_device_on_its_active_version(feed: Registry) -> None:
    traffic = await feed.get_traffic("team", "/feed")

    assert traffic.policy == TrafficPolicy()
    assert traffic.policy.sticky_header == "x-device-id"
    assert (traffic.canary_id, traffic.verdict) == (None, None)
    assert await feed.list_traffic() == []


async def test_a_candidate_starts_a_canary_run_recorded_once(feed: Registry) -> None:
    before = await feed.latest_seq()
    policy = TrafficPolicy(candidate="v2", percent=10, rules=(TV_RULE,), analysis={"auto": True})

    traffic = await feed.set_traffic("team", "/feed", policy, actor="bo")

    assert traffic.policy == policy
    assert traffic.canary_id
    assert traffic.canary_started_at is not None
    assert await feed.get_traffic("team", "/feed") == traffic
    assert await feed.list_traffic() == [traffic]
    assert await actions_since(feed, before) == [Action.TRAFFIC_SET]
    (event,) = await feed.audit_log(limit=1)
    assert event.actor == "bo"
    assert event.details["policy"]["candidate"] == "v2"  # type: ignore[index]
    assert event.details["previous"]["candidate"] is None  # type: ignore[index]

    again = await feed.set_traffic("team", "/feed", policy, actor="bo")
    assert again == traffic
    assert await actions_since(feed, before) == [Action.TRAFFIC_SET]


async def test_a_new_percentage_keeps_the_run_and_a_new_candidate_starts_another(
    feed: Registry,
) -> None:
    first = await feed.set_traffic("team", "/feed", TrafficPolicy("v2", 10), actor="bo")
    await feed.record_verdict(
        "team", "/feed", canary_id=str(first.canary_id), verdict={"verdict": "hold"}, actor="ci"
    )

    wider = await feed.set_traffic("team", "/feed", TrafficPolicy("v2", 50), actor="bo")
    other = await feed.set_traffic("team", "/feed", TrafficPolicy("v3", 50), actor="bo")

    assert (wider.canary_id, wider.canary_started_at) == (first.canary_id, first.canary_started_at)
    assert wider.verdict == {"verdict": "hold"}
    assert other.canary_id not in {None, first.canary_id}
    assert other.verdict is None


@pytest.mark.parametrize(
    ("policy", "error"),
    [
        (TrafficPolicy("v9", 10), NotFound),
        (TrafficPolicy("v1", 10), Conflict),
        (TrafficPolicy(rules=(ClassRule("x-device-class", ("tv",), "v7"),)), NotFound),
        (TrafficPolicy("v2", 100.5), ValueError),
        (TrafficPolicy("v2", float("nan")), ValueError),
        (TrafficPolicy(None, 10), ValueError),
        (TrafficPolicy(rules=(ClassRule("x-device-class", (), "v2"),)), ValueError),
        (TrafficPolicy(rules=(ClassRule("", ("tv",), "v2"),)), ValueError),
        (TrafficPolicy("seven", 10), NotFound),
        (TrafficPolicy(sticky_header=""), ValueError),
    ],
)
async def test_a_bad_policy_changes_nothing(
    feed: Registry, policy: TrafficPolicy, error: type[Exception]
) -> None:
    before = await feed.latest_seq()

    with pytest.raises(error):
        await feed.set_traffic("team", "/feed", policy, actor="bo")

    assert (await feed.get_traffic("team", "/feed")).policy == TrafficPolicy()
    assert await feed.latest_seq() == before


async def test_a_candidate_needs_an_active_version(registry: Registry, module_hash: str) -> None:
    await registry.put_endpoint("team", "/new", methods=["GET"], actor="ana")
    await registry.add_version("team", "/new", language="js", module_hash=module_hash, author="a")

    with pytest.raises(Conflict):
        await registry.set_traffic("team", "/new", TrafficPolicy("v1", 10), actor="bo")
    # Rules alone need no active version.
    rules = TrafficPolicy(rules=(ClassRule("x-device-class", ("tv",), "v1"),))
    assert (await registry.set_traffic("team", "/new", rules, actor="bo")).policy == rules


async def test_promoting_makes_the_candidate_active_and_keeps_rules_and_verdict(
    feed: Registry,
) -> None:
    policy = TrafficPolicy("v2", 10, rules=(TV_RULE,), analysis={"auto": True})
    run = await feed.set_traffic("team", "/feed", policy, actor="bo")
    canary_id = str(run.canary_id)
    await feed.put_canary_report(
        "team", "/feed", canary_id=canary_id, reporter="host-a", report={"n": 1}
    )
    before = await feed.latest_seq()
    verdict = {"verdict": "promote", "evidence": {"candidate": {"requests": 500}}}

    ended = await feed.end_canary(
        "team",
        "/feed",
        canary_id=canary_id,
        outcome=CanaryEnd.PROMOTED,
        actor="canary-analysis",
        verdict=verdict,
    )

    assert (await feed.get_endpoint("team", "/feed")).active_version == "v2"
    assert ended.policy == TrafficPolicy(rules=(TV_RULE,), analysis={"auto": True})
    assert (ended.canary_id, ended.verdict) == (None, verdict)
    assert await feed.canary_reports("team", "/feed", canary_id) == []
    assert await actions_since(feed, before) == [Action.CANARY_PROMOTED]
    (event,) = await feed.audit_log(limit=1)
    assert event.actor == "canary-analysis"
    assert event.details == {
        "canary_id": canary_id,
        "candidate": "v2",
        "percent": 10.0,
        "stable": "v1",
        "verdict": verdict,
    }


@pytest.mark.parametrize("outcome", [CanaryEnd.ABORTED, CanaryEnd.ROLLED_BACK])
async def test_aborting_or_rolling_back_keeps_the_stable_version(
    feed: Registry, outcome: CanaryEnd
) -> None:
    run = await feed.set_traffic("team", "/feed", TrafficPolicy("v3", 25), actor="bo")
    before = await feed.latest_seq()

    ended = await feed.end_canary(
        "team", "/feed", canary_id=str(run.canary_id), outcome=outcome, actor="bo"
    )

    assert (await feed.get_endpoint("team", "/feed")).active_version == "v1"
    assert ended.policy.candidate is None
    assert await actions_since(feed, before) == [Action(outcome.value)]


async def test_a_decision_about_another_run_changes_nothing(feed: Registry) -> None:
    old = await feed.set_traffic("team", "/feed", TrafficPolicy("v2", 10), actor="bo")
    new = await feed.set_traffic("team", "/feed", TrafficPolicy("v3", 10), actor="bo")
    before = await feed.latest_seq()

    with pytest.raises(Conflict):
        await feed.end_canary(
            "team",
            "/feed",
            canary_id=str(old.canary_id),
            outcome=CanaryEnd.PROMOTED,
            actor="canary-analysis",
        )
    with pytest.raises(Conflict):
        await feed.record_verdict(
            "team", "/feed", canary_id=str(old.canary_id), verdict={"v": 1}, actor="ci"
        )

    assert await feed.get_traffic("team", "/feed") == new
    assert (await feed.get_endpoint("team", "/feed")).active_version == "v1"
    assert await feed.latest_seq() == before


async def test_a_verdict_is_recorded_when_it_changes(feed: Registry) -> None:
    run = await feed.set_traffic("team", "/feed", TrafficPolicy("v2", 10), actor="bo")
    canary_id = str(run.canary_id)
    before = await feed.latest_seq()

    for verdict in ({"verdict": "hold"}, {"verdict": "hold"}, {"verdict": "rollback"}):
        await feed.record_verdict(
            "team", "/feed", canary_id=canary_id, verdict=verdict, actor="canary-analysis"
        )

    assert await actions_since(feed, before) == [Action.CANARY_VERDICT] * 2
    assert (await feed.get_traffic("team", "/feed")).verdict == {"verdict": "rollback"}


async def test_reports_are_kept_per_run_and_reporter_without_events(feed: Registry) -> None:
    run = await feed.set_traffic("team", "/feed", TrafficPolicy("v2", 10), actor="bo")
    canary_id = str(run.canary_id)
    before = await feed.latest_seq()

    for reporter, count in (("host-b", 1), ("host-a", 2), ("host-b", 3)):
        await feed.put_canary_report(
            "team", "/feed", canary_id=canary_id, reporter=reporter, report={"n": count}
        )

    reports = await feed.canary_reports("team", "/feed", canary_id)
    assert [(r.reporter, dict(r.report)) for r in reports] == [
        ("host-a", {"n": 2}),
        ("host-b", {"n": 3}),
    ]
    assert await feed.canary_reports("team", "/feed", "another-run") == []
    assert await feed.latest_seq() == before
    with pytest.raises(ValueError, match="at most"):
        await feed.put_canary_report(
            "team", "/feed", canary_id=canary_id, reporter="x", report={"n": "0" * 300_000}
        )


async def test_a_deleted_endpoint_loses_its_traffic(feed: Registry) -> None:
    await feed.set_traffic("team", "/feed", TrafficPolicy("v2", 10), actor="bo")

    await feed.delete_endpoint("team", "/feed", actor="ana")
    with pytest.raises(NotFound):
        await feed.get_traffic("team", "/feed")
    await feed.put_endpoint("team", "/feed", methods=["GET"], actor="ana")

    assert (await feed.get_traffic("team", "/feed")).policy == TrafficPolicy()
    assert await feed.list_traffic() == []


async def test_another_registry_on_the_store_sees_the_policy(
    feed: Registry, backend: object
) -> None:
    other = await backend.open()  # type: ignore[attr-defined]
    traffic = await feed.set_traffic("team", "/feed", TrafficPolicy("v2", 10), actor="bo")

    assert await other.get_traffic("team", "/feed") == traffic
