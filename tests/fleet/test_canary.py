"""Canary analysis across a fleet on Cassandra: every host counts, one host decides, every
host follows, and the audit log keeps the evidence."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fleet.test_fleet import fresh_keyspace_url, wait_until
from tests.support.hosts import HostProcess

ANALYSIS_INTERVAL_S = "0.3"


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[list[HostProcess]]:
    url = fresh_keyspace_url()
    hosts = [
        HostProcess(
            tmp_path / name,
            registry_url=url,
            extra_args=["--canary-interval", ANALYSIS_INTERVAL_S],
        )
        for name in ("a", "b", "c")
    ]
    for host in hosts:
        host.start()
    yield hosts
    for host in hosts:
        host.stop()


@dataclass(eq=False)  # a thread is hashed by identity
class Devices(threading.Thread):
    """Devices calling tv/home on every host in turn, each with its own id, until stopped."""

    hosts: list[HostProcess]
    answers: list[tuple[str, int, str | None]] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        super().__init__(daemon=True)

    def run(self) -> None:
        clients = [httpx.Client(base_url=host.url, timeout=30) for host in self.hosts]
        for n in itertools.count():
            if self.stopping.is_set():
                break
            device = f"device-{n % 500}"
            answer = clients[n % len(clients)].get("/tv/home", headers={"x-device-id": device})
            body = answer.json()
            self.answers.append((device, answer.status_code, body.get("version")))
        for client in clients:
            client.close()

    def __enter__(self) -> Devices:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self.join(timeout=60)


def endpoint_log(host: HostProcess) -> list[dict[str, Any]]:
    with host.admin() as admin:
        events: list[dict[str, Any]] = admin.get(
            "/endpoints/tv/home/-/log", params={"limit": 200}
        ).json()["events"]
        return events


def candidate(host: HostProcess) -> str | None:
    with host.admin() as admin:
        found: str | None = admin.get("/endpoints/tv/home/-/traffic").json()["candidate"]
        return found


def every_device_gets(host: HostProcess, version: str, devices: int = 60) -> bool:
    with host.device() as device:
        answers = [
            device.get("/tv/home", headers={"x-device-id": f"device-{n}"}) for n in range(devices)
        ]
    return all(a.status_code == 200 and a.json()["version"] == version for a in answers)


PROBED_DEVICES = 20


def splits(host: HostProcess) -> bool:
    """Whether `host` applies the split. The analysis counts only requests a split placed,
    so the probes add at most PROBED_DEVICES requests per host to the canary run."""
    return not every_device_gets(host, "v1", PROBED_DEVICES)


def test_a_failing_canary_is_rolled_back_fleet_wide_by_one_decision(
    fleet: list[HostProcess], built: dict[str, Path]
) -> None:
    a, b, c = fleet
    a.cli("deploy", str(built["v2"]), "--endpoint", "tv/home")
    window = 600
    # More than the probes below can send (3 hosts x PROBED_DEVICES), so the verdict
    # waits for the devices' own requests.
    min_requests = 4 * PROBED_DEVICES
    a.cli(
        "traffic",
        "tv/home",
        "--auto",
        "--min-requests",
        str(min_requests),
        "--window",
        str(window),
    )
    c.cli("deploy", str(built["flaky"]), "--endpoint", "tv/home", "--canary", "30")
    for host in fleet:
        wait_until(partial(splits, host), f"{host.url} never split")

    with Devices(fleet) as devices:
        wait_until(lambda: candidate(b) is None, "the failing canary was never rolled back")

    failed = [answer for answer in devices.answers if answer[1] != 200]
    assert failed, "the candidate failed no request"
    assert {version for _, status, version in devices.answers if status == 200} == {"v1", "v2"}
    for host in fleet:
        wait_until(partial(every_device_gets, host, "v1"), f"{host.url} still splits")
    events = endpoint_log(a)
    decisions = [
        e for e in events if e["action"].startswith("canary.") and e["action"] != "canary.verdict"
    ]
    assert [(e["action"], e["actor"]) for e in decisions] == [
        ("canary.rolled_back", "canary-analysis")
    ]
    verdict = decisions[0]["details"]["verdict"]
    assert (verdict["verdict"], verdict["applied"]) == ("rollback", True)
    assert (verdict["candidate"], verdict["stable"], verdict["hosts"]) == ("v2", "v1", 3)
    assert verdict["elapsed_s"] < window
    guest_errors = next(
        check for check in verdict["checks"] if check["metric"] == "failure_rate:guest_error"
    )
    assert not guest_errors["passed"]
    assert 0.15 < guest_errors["candidate"] < 0.45
    assert guest_errors["stable"] == 0.0
    assert verdict["arms"]["candidate"]["requests"] >= min_requests
    assert any("failure rate (guest_error)" in reason for reason in verdict["reasons"])
    assert verdict["decided_by"]


def test_a_healthy_canary_is_promoted_fleet_wide_after_its_window(
    fleet: list[HostProcess], built: dict[str, Path]
) -> None:
    a, b, c = fleet
    a.cli("deploy", str(built["v2"]), "--endpoint", "tv/home")
    # Latency on these two shared cores varies far more than any real regression
    # would: the latency check is made lenient, the others keep their defaults.
    b.cli(
        "traffic",
        "tv/home",
        "--auto",
        "--min-requests",
        "40",
        "--window",
        "3",
        "--max-latency-ratio",
        "20",
    )
    b.cli("deploy", str(built["v2"]), "--endpoint", "tv/home", "--canary", "40")

    with Devices(fleet):
        wait_until(lambda: candidate(c) is None, "the healthy canary was never promoted")

    for host in fleet:
        wait_until(partial(every_device_gets, host, "v2"), f"{host.url} never moved to v2")
    decisions = [
        e for e in endpoint_log(c) if e["action"] in {"canary.promoted", "canary.rolled_back"}
    ]
    assert [(e["action"], e["actor"]) for e in decisions] == [
        ("canary.promoted", "canary-analysis")
    ]
    verdict = decisions[0]["details"]["verdict"]
    assert (verdict["verdict"], verdict["cause"], verdict["applied"]) == (
        "promote",
        "healthy",
        True,
    )
    assert verdict["elapsed_s"] >= 3
    assert verdict["hosts"] == 3
    assert all(check["passed"] for check in verdict["checks"])
    assert min(arm["requests"] for arm in verdict["arms"].values()) >= 40
    with a.admin() as admin:
        assert admin.get("/endpoints/tv/home").json()["active_version"] == "v2"
