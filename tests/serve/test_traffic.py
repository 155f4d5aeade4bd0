"""Canary splits and device-class rules on a real host: who gets which version."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.hosts import ADMIN_TOKEN, MUSIC_TOKEN, TV_TOKEN, HostProcess

DEVICES = 1_000
TOLERANCE = 0.025


@pytest.fixture
def two_versions(host: HostProcess, built: dict[str, Path]) -> HostProcess:
    """tv/home: the same module as v1 (active) and v2; each answer names its version."""
    for _ in range(2):
        host.cli("deploy", str(built["v2"]), "--endpoint", "tv/home", "--no-activate")
    host.cli("rollback", "tv/home", "--to", "v1")
    return host


def versions_served(
    host: HostProcess, headers: Iterable[Mapping[str, str]], threads: int = 8
) -> list[str]:
    """The version that answered each request, in order; every answer must be a 200."""
    requests = list(headers)

    def call(chunk: list[Mapping[str, str]]) -> list[str]:
        with host.device() as device:
            answers = [device.get("/tv/home", headers=dict(h)) for h in chunk]
        assert [a.status_code for a in answers] == [200] * len(answers), answers[-1].text
        return [str(a.json()["version"]) for a in answers]

    chunks = [requests[i::threads] for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        answered = list(pool.map(call, chunks))
    by_position: dict[int, str] = {}
    for index, chunk_answers in enumerate(answered):
        for offset, version in enumerate(chunk_answers):
            by_position[index + offset * threads] = version
    return [by_position[i] for i in range(len(requests))]


def test_a_ten_percent_canary_gets_its_share_and_each_device_sticks(
    two_versions: HostProcess,
) -> None:
    host = two_versions
    host.cli("traffic", "tv/home", "--candidate", "v2", "--percent", "10")
    devices = [f"device-{n}" for n in range(DEVICES)]

    served = versions_served(host, [{"x-device-id": d} for d in devices * 2])

    assert len(served) == 2 * DEVICES
    per_device: dict[str, set[str]] = defaultdict(set)
    for device, version in zip(devices * 2, served, strict=True):
        per_device[device].add(version)
    assert {len(versions) for versions in per_device.values()} == {1}
    share = Counter(served)["v2"] / len(served)
    assert 0.10 - TOLERANCE <= share <= 0.10 + TOLERANCE, share


def test_a_device_without_an_id_is_placed_by_its_request_id(two_versions: HostProcess) -> None:
    host = two_versions
    host.cli("traffic", "tv/home", "--candidate", "v2", "--percent", "50")
    ids = [f"request-{n}" for n in range(200)]

    first = versions_served(host, [{"x-request-id": i} for i in ids])
    again = versions_served(host, [{"x-request-id": i} for i in ids])

    assert first == again
    assert set(first) == {"v1", "v2"}


def test_raising_the_percentage_only_adds_devices(two_versions: HostProcess) -> None:
    host = two_versions
    devices = [{"x-device-id": f"device-{n}"} for n in range(400)]
    host.cli("traffic", "tv/home", "--candidate", "v2", "--percent", "10")
    at_ten = versions_served(host, devices)
    host.cli("traffic", "tv/home", "--percent", "40")
    at_forty = versions_served(host, devices)

    moved = {i for i, version in enumerate(at_ten) if version == "v2"}
    assert moved
    assert all(at_forty[i] == "v2" for i in moved)
    assert Counter(at_forty)["v2"] > Counter(at_ten)["v2"]


def test_a_class_rule_routes_only_that_class(host: HostProcess, built: dict[str, Path]) -> None:
    for _ in range(3):
        host.cli("deploy", str(built["v2"]), "--endpoint", "tv/home", "--no-activate")
    host.cli("rollback", "tv/home", "--to", "v1")
    host.cli("traffic", "tv/home", "--rule", "x-device-class=tv,stb:v2")
    tv = [{"x-device-class": c, "x-device-id": f"d{n}"} for n in range(30) for c in ("tv", "STB")]
    others = [{"x-device-class": "phone", "x-device-id": f"d{n}"} for n in range(30)]
    unclassed = [{"x-device-id": f"d{n}"} for n in range(30)]

    assert set(versions_served(host, tv)) == {"v2"}
    assert set(versions_served(host, others + unclassed)) == {"v1"}

    # A rule wins over the split: with every other device on the canary, TVs stay pinned.
    host.cli("traffic", "tv/home", "--candidate", "v3", "--percent", "100")
    assert set(versions_served(host, tv)) == {"v2"}
    assert set(versions_served(host, others + unclassed)) == {"v3"}
    shown = host.cli("traffic", "tv/home").stdout
    assert "rule 1     x-device-class: tv|stb -> v2" in shown
    assert "candidate  v3 for 100% of devices" in shown


def test_promoting_and_aborting_move_every_device(two_versions: HostProcess) -> None:
    host = two_versions
    devices = [{"x-device-id": f"device-{n}"} for n in range(100)]
    host.cli("traffic", "tv/home", "--candidate", "v2", "--percent", "30", token=TV_TOKEN)

    host.cli("abort", "tv/home", token=TV_TOKEN)
    assert set(versions_served(host, devices)) == {"v1"}

    host.cli("traffic", "tv/home", "--candidate", "v2", "--percent", "30", token=TV_TOKEN)
    promoted = host.cli("promote", "tv/home", token=TV_TOKEN)
    assert "v2 is stable" in promoted.stdout
    assert set(versions_served(host, devices)) == {"v2"}
    with host.admin() as admin:
        events = admin.get("/endpoints/tv/home/-/log").json()["events"]
    # The analysis' own verdicts (held: too few requests) come between.
    changes = [(e["action"], e["actor"]) for e in events if e["action"] != "canary.verdict"]
    assert changes[:4] == [
        ("canary.promoted", "tv-team"),
        ("traffic.set", "tv-team"),
        ("canary.aborted", "tv-team"),
        ("traffic.set", "tv-team"),
    ]


def test_activating_the_candidate_promotes_it(two_versions: HostProcess) -> None:
    host = two_versions
    host.cli("traffic", "tv/home", "--candidate", "v2", "--percent", "30")

    host.cli("rollback", "tv/home", "--to", "v2")

    with host.admin() as admin:
        traffic = admin.get("/endpoints/tv/home/-/traffic").json()
    assert (traffic["stable"], traffic["candidate"]) == ("v2", None)
    assert set(versions_served(host, [{"x-device-id": f"d{n}"} for n in range(50)])) == {"v2"}


def test_deploy_with_canary_starts_one(host: HostProcess, built: dict[str, Path]) -> None:
    host.cli("deploy", str(built["v2"]), "--endpoint", "tv/home")

    deployed = host.cli("deploy", str(built["v2"]), "--endpoint", "tv/home", "--canary", "25")

    assert deployed.stdout.strip() == "v2"
    assert "canary for 25% of devices" in deployed.stderr
    with host.admin() as admin:
        traffic = admin.get("/endpoints/tv/home/-/traffic").json()
    assert (traffic["stable"], traffic["candidate"], traffic["percent"]) == ("v1", "v2", 25.0)
    served = Counter(versions_served(host, [{"x-device-id": f"d{n}"} for n in range(200)]))
    assert set(served) == {"v1", "v2"}


# Each bad change: what is sent, the status and error code it gets.
BAD_CHANGES: list[tuple[dict[str, Any], int, str]] = [
    ({"candidate": "v2", "percent": 150}, 400, "bad_request"),
    ({"candidate": "v2", "percent": 10.001}, 400, "bad_request"),
    ({"candidate": "v2", "percent": -1}, 400, "bad_request"),
    ({"candidate": "v9", "percent": 10}, 404, "not_found"),
    ({"candidate": "no-such-label", "percent": 10}, 404, "not_found"),
    ({"candidate": "v1", "percent": 10}, 409, "conflict"),
    ({"candidate": "v2"}, 400, "bad_traffic"),
    ({"percent": 10}, 400, "bad_traffic"),
    ({"candidate": None}, 400, "bad_traffic"),
    (
        {"rules": [{"header": "x-c", "values": [f"c{n}"], "version": "v2"} for n in range(9)]},
        400,
        "bad_request",
    ),
    (
        {"rules": [{"header": "x-c", "values": [f"c{n}" for n in range(17)], "version": "v2"}]},
        400,
        "bad_request",
    ),
    ({"rules": [{"header": "x-c", "values": [], "version": "v2"}]}, 400, "bad_request"),
    ({"rules": [{"header": "x-c", "values": ["  "], "version": "v2"}]}, 400, "bad_request"),
    ({"rules": [{"header": "x-c", "values": ["x" * 129], "version": "v2"}]}, 400, "bad_request"),
    (
        {"rules": [{"header": "Authorization", "values": ["Bearer x"], "version": "v2"}]},
        400,
        "bad_request",
    ),
    ({"rules": [{"header": "x c", "values": ["tv"], "version": "v2"}]}, 400, "bad_request"),
    ({"rules": [{"header": "x-c", "values": ["tv"], "version": "v9"}]}, 404, "not_found"),
    (
        {
            "rules": [
                {"header": "x-device-class", "values": ["tv", "stb"], "version": "v2"},
                {"header": "x-region", "values": ["eu"], "version": "v1"},
                {"header": "X-Device-Class", "values": ["STB"], "version": "v1"},
            ]
        },
        409,
        "conflicting_rules",
    ),
    ({"sticky_header": "cookie"}, 400, "bad_request"),
    ({"analysis": {"window_s": 0}}, 400, "bad_traffic"),
    ({"analysis": {"max_failure_increase": 2}}, 400, "bad_traffic"),
    ({"analysis": {"no_such_setting": 1}}, 400, "bad_traffic"),
    ({"weights": {"v2": 10}}, 400, "bad_request"),
]


@pytest.fixture(scope="module")
def steady(
    tmp_path_factory: pytest.TempPathFactory, built: dict[str, Path]
) -> Iterator[HostProcess]:
    """One host for every bad change: none of them may change anything."""
    host = HostProcess(tmp_path_factory.mktemp("traffic") / "host").start()
    for _ in range(2):
        host.cli("deploy", str(built["v2"]), "--endpoint", "tv/home", "--no-activate")
    host.cli("rollback", "tv/home", "--to", "v1")
    host.cli("traffic", "tv/home", "--rule", "x-device-class=tv:v2")
    yield host
    host.stop()


@pytest.mark.parametrize(("change", "status", "code"), BAD_CHANGES)
def test_a_bad_change_gets_a_4xx_and_changes_nothing(
    steady: HostProcess, change: dict[str, Any], status: int, code: str
) -> None:
    with steady.admin() as admin:
        before = admin.get("/endpoints/tv/home/-/traffic").json()
        seq = admin.get("/endpoints/tv/home/-/log").json()["events"][0]["seq"]

        answer = admin.patch("/endpoints/tv/home/-/traffic", json=change)

        assert (answer.status_code, answer.json()["error"]) == (status, code), answer.text
        assert answer.json()["message"]
        assert admin.get("/endpoints/tv/home/-/traffic").json() == before
        assert admin.get("/endpoints/tv/home/-/log").json()["events"][0]["seq"] == seq
    assert versions_served(steady, [{"x-device-class": "tv"}, {}]) == ["v2", "v1"]


def test_ending_a_canary_that_is_not_running_gets_a_409(two_versions: HostProcess) -> None:
    with two_versions.admin() as admin:
        for how in ("promote", "abort"):
            answer = admin.post(f"/endpoints/tv/home/-/traffic/{how}", json={})
            assert (answer.status_code, answer.json()["error"]) == (409, "no_canary")
        admin.patch("/endpoints/tv/home/-/traffic", json={"candidate": "v2", "percent": 5})
        stale = admin.post("/endpoints/tv/home/-/traffic/promote", json={"canary_id": "old-run"})
        assert (stale.status_code, stale.json()["error"]) == (409, "conflict")
        assert admin.get("/endpoints/tv/home").json()["active_version"] == "v1"


def test_a_canary_needs_a_stable_version(host: HostProcess, built: dict[str, Path]) -> None:
    host.cli("deploy", str(built["v2"]), "--endpoint", "tv/new", "--no-activate")

    refused = host.cli(
        "deploy", str(built["v2"]), "--endpoint", "tv/new", "--canary", "10", check=False
    )

    assert refused.returncode == 1
    assert "409 no_stable_version" in refused.stderr
    with host.admin() as admin:
        versions = admin.get("/endpoints/tv/new/-/versions").json()["versions"]
    assert [v["id"] for v in versions] == ["v1"]


def test_only_the_owning_team_and_admins_touch_traffic(two_versions: HostProcess) -> None:
    with two_versions.admin(MUSIC_TOKEN) as music:
        for method, url, body in (
            ("GET", "/endpoints/tv/home/-/traffic", None),
            ("PATCH", "/endpoints/tv/home/-/traffic", {"candidate": "v2", "percent": 10}),
            ("GET", "/endpoints/tv/home/-/canary", None),
            ("POST", "/endpoints/tv/home/-/traffic/abort", {}),
        ):
            answer = music.request(method, url, json=body)
            assert answer.status_code == 403, (method, url)
    with httpx.Client(base_url=f"{two_versions.url}/admin/v1") as anonymous:
        assert anonymous.get("/endpoints/tv/home/-/traffic").status_code == 401


def test_the_traffic_list_shows_the_splits_and_rules_a_token_may_see(
    two_versions: HostProcess, built: dict[str, Path]
) -> None:
    host = two_versions
    host.cli("deploy", str(built["v2"]), "--endpoint", "tv/other")

    def listed(token: str) -> list[tuple[str, str | None, float, int]]:
        with host.admin(token) as admin:
            found = admin.get("/traffic").raise_for_status().json()["traffic"]
        return [(t["path"], t["candidate"], t["percent"], len(t["rules"])) for t in found]

    assert listed(TV_TOKEN) == []
    host.cli("traffic", "tv/home", "--candidate", "v2", "--percent", "10")
    host.cli("traffic", "tv/home", "--rule", "x-device-class=tv:v2")
    assert listed(TV_TOKEN) == [("/home", "v2", 10.0, 1)]
    assert listed(ADMIN_TOKEN) == [("/home", "v2", 10.0, 1)]
    assert listed(MUSIC_TOKEN) == []
    host.cli("abort", "tv/home")
    host.cli("traffic", "tv/home", "--no-rules")
    assert listed(TV_TOKEN) == []
