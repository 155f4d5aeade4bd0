"""Version selection, I/O-free: the split, stickiness, device-class rules, conflicts."""

from __future__ import annotations

from collections import Counter

import pytest

from host.traffic import (
    BUCKETS,
    Arm,
    Selection,
    bucket,
    buckets_for,
    choose,
    plan_for,
    rule_conflict,
)
from registry import ClassRule, Traffic, TrafficPolicy

DEVICES = [f"device-{n}" for n in range(20_000)]


def traffic(**policy: object) -> Traffic:
    return Traffic("tv", "/home", TrafficPolicy(**policy), canary_id="run-1")  # type: ignore[arg-type]


def chosen(policy: Traffic, headers: dict[str, str], request_id: str = "r") -> Selection:
    plan = plan_for(policy, "v1")
    selection = choose(plan, headers, request_id)
    assert selection is not None
    return selection


def test_an_endpoint_without_a_policy_has_no_plan() -> None:
    assert plan_for(traffic(), "v1") is None
    # A candidate that has become the active version splits nothing.
    assert plan_for(traffic(candidate="v1", percent=50), "v1") is None
    assert choose(None, {"x-device-id": "a"}, "r") is None


@pytest.mark.parametrize("percent", [0, 1, 10, 33.33, 50, 100])
def test_the_candidate_gets_its_share_of_devices(percent: float) -> None:
    policy = traffic(candidate="v2", percent=percent)

    served = Counter(chosen(policy, {"x-device-id": device}).version for device in DEVICES)

    assert abs(served["v2"] / len(DEVICES) - percent / 100) < 0.01


def test_a_device_keeps_its_version_and_its_canary_run() -> None:
    policy = traffic(candidate="v2", percent=50)

    first = [chosen(policy, {"x-device-id": d}) for d in DEVICES[:500]]
    again = [chosen(policy, {"x-device-id": d}, request_id=f"other-{d}") for d in DEVICES[:500]]

    assert first == again
    assert {s.canary_id for s in first} == {"run-1"}
    assert {s.arm for s in first} == {Arm.STABLE, Arm.CANDIDATE}


def test_raising_the_percentage_keeps_the_devices_already_on_the_candidate() -> None:
    at_ten = [chosen(traffic(candidate="v2", percent=10), {"x-device-id": d}) for d in DEVICES]
    at_thirty = [chosen(traffic(candidate="v2", percent=30), {"x-device-id": d}) for d in DEVICES]

    assert all(
        b.version == "v2" for a, b in zip(at_ten, at_thirty, strict=True) if a.version == "v2"
    )


def test_each_candidate_samples_its_own_devices() -> None:
    v2 = {
        d
        for d in DEVICES
        if chosen(traffic(candidate="v2", percent=10), {"x-device-id": d}).version == "v2"
    }
    v3 = {
        d
        for d in DEVICES
        if chosen(traffic(candidate="v3", percent=10), {"x-device-id": d}).version == "v3"
    }

    # Independent 10 % samples overlap on about 1 % of the devices, not 10 %.
    assert len(v2 & v3) < 0.03 * len(DEVICES)


def test_without_a_device_id_the_request_id_places_the_request() -> None:
    policy = traffic(candidate="v2", percent=50)

    by_request = [chosen(policy, {}, request_id=f"req-{n}").version for n in range(2_000)]

    assert by_request == [chosen(policy, {}, request_id=f"req-{n}").version for n in range(2_000)]
    assert 0.45 < by_request.count("v2") / 2_000 < 0.55


def test_the_sticky_header_is_configurable() -> None:
    policy = traffic(candidate="v2", percent=50, sticky_header="x-account")

    placed = {
        chosen(policy, {"x-account": "acct-7", "x-device-id": d}).version for d in DEVICES[:200]
    }

    assert len(placed) == 1


def test_rules_pin_their_class_first_and_in_order() -> None:
    rules = (
        ClassRule("x-device-class", ("tv", "stb"), "v3"),
        ClassRule("x-region", ("eu",), "v4"),
    )
    policy = traffic(candidate="v2", percent=100, rules=rules)

    assert chosen(policy, {"x-device-class": " TV "}) == Selection("v3", Arm.PINNED)
    assert chosen(policy, {"x-device-class": "stb", "x-region": "eu"}).version == "v3"
    assert chosen(policy, {"x-device-class": "phone", "x-region": "EU"}).version == "v4"
    assert chosen(policy, {"x-device-class": "phone"}) == Selection("v2", Arm.CANDIDATE, "run-1")
    # Rules alone: everyone else gets the stable version, with no canary run.
    assert chosen(traffic(rules=rules), {}) == Selection("v1", Arm.STABLE, None)


def test_a_rule_no_request_could_reach_is_a_conflict() -> None:
    tv = ClassRule("x-device-class", ("tv", "stb"), "v2")

    assert rule_conflict([tv, ClassRule("x-region", ("tv",), "v3")]) is None
    conflict = rule_conflict([tv, ClassRule("x-device-class", ("phone", "STB"), "v3")])
    assert conflict is not None
    assert conflict.startswith("rule 2 (x-device-class: phone|STB -> v3) conflicts with rule 1")
    assert conflict.endswith("both match x-device-class: stb")
    assert rule_conflict([tv, ClassRule("x-device-class", ("tv",), "v2")]) is not None


def test_buckets_cover_the_range_evenly() -> None:
    salt = b"k" * 32
    counts = Counter(bucket(salt, device) * 10 // BUCKETS for device in DEVICES)

    assert set(counts) == set(range(10))
    assert max(counts.values()) - min(counts.values()) < 0.02 * len(DEVICES)
    assert [buckets_for(p) for p in (0, 0.01, 10, 33.33, 100)] == [0, 1, 1_000, 3_333, 10_000]
