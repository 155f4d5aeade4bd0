"""A fleet: three host processes on one real Cassandra, deploys, compiles, and an outage."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from registry import open_registry
from tests.support import cassandra as local_cassandra
from tests.support.hosts import HostProcess, example_backends
from tests.support.registries import cassandra_up

# How long a test waits for something that must happen: no speed
# expectation (the benchmarks measure speed), only a guard against hanging.
PATIENCE_S = 60.0


def fresh_keyspace_url() -> str:
    """A keyspace of its own, created before any host starts (hosts then only read its schema)."""
    cassandra_up()
    url = local_cassandra.url(f"fleet_{uuid.uuid4().hex[:12]}")

    async def create() -> None:
        await (await open_registry(url, Path("."))).close()

    asyncio.run(create())
    return url


@pytest.fixture
def fleet(tmp_path: Path, example_backend: str) -> Iterator[list[HostProcess]]:
    url = fresh_keyspace_url()
    hosts = [
        HostProcess(tmp_path / name, backends=example_backends(example_backend), registry_url=url)
        for name in ("a", "b", "c")
    ]
    for host in hosts:
        host.start()
    yield hosts
    for host in hosts:
        host.stop()


def test_a_deploy_reaches_the_fleet_and_compiles_once(
    fleet: list[HostProcess], built: dict[str, Path], tmp_path: Path, example_backend: str
) -> None:
    a, b, c = fleet
    a.cli("deploy", str(built["js"]), "--endpoint", "tv/home", "--config", "greeting=Hi")
    # The others learn of it from the change feed, with no restart or redeploy.
    for other in (b, c):
        other.wait_for_status("/tv/home", 200)
    assert [host.compiles() for host in fleet] == [1, 0, 0]
    assert [h.host_info()["cache"]["registry_loads"] for h in (b, c)] == [1, 1]

    later = HostProcess(
        tmp_path / "d", backends=example_backends(example_backend), registry_url=a.registry_url
    ).start()
    try:
        assert later.status("/tv/home") == 200
        assert later.compiles() == 0
        assert later.host_info()["cache"]["registry_loads"] == 1
    finally:
        later.stop()


def test_the_fleet_rides_out_a_cassandra_outage(
    fleet: list[HostProcess], built: dict[str, Path]
) -> None:
    a, b, _ = fleet
    acknowledged = [
        a.cli("deploy", str(built[name]), "--endpoint", "tv/home").stdout.strip()
        for name in ("js", "v2")
    ]
    b.wait_for_status("/tv/home", 200)

    cassandra("down")
    try:
        for host in fleet:
            assert host.status("/tv/home") == 200
        for host in fleet:
            host.wait_for_readiness(503)
        refused = a.cli("deploy", str(built["js"]), "--endpoint", "tv/home", check=False)
        assert refused.returncode == 1
        assert "503 registry_unavailable" in refused.stderr
        assert b.status("/tv/home") == 200
    finally:
        cassandra("up")

    for host in fleet:
        host.wait_for_readiness(200)
    again = a.cli("deploy", str(built["js"]), "--endpoint", "tv/home").stdout.strip()
    with b.admin() as admin:
        versions = [v["id"] for v in admin.get("/endpoints/tv/home/-/versions").json()["versions"]]
    assert versions == [again, *reversed(acknowledged)]
    # b moves from the second edition to the version deployed after the outage.
    wait_until(lambda: "edition" not in home_answer(b), "b never served the redeployed version")


def home_answer(host: HostProcess) -> dict[str, object]:
    with host.device() as device:
        answer: dict[str, object] = device.get("/tv/home", params={"user": "42"}).json()
        return answer


def wait_until(condition: Callable[[], bool], failure: str) -> None:
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.1)


def cassandra(command: str) -> None:
    local_cassandra.cassandra_sh(command)


def test_a_managed_service_reaches_the_fleet_without_a_restart(
    fleet: list[HostProcess], built: dict[str, Path], example_backend: str
) -> None:
    a, b, c = fleet
    a.cli("deploy", str(built["fetch"]), "--endpoint", "tv/fetch")
    a.cli("service", "titles", "--url", f"{example_backend}/catalog", "--cache-ttl", "600")

    for host in (b, c):
        wait_until(serves_titles(host), f"{host.url} never served the new service")
    with c.admin() as admin:
        events = admin.get("/audit", params={"limit": 10}).json()["events"]
    assert any(e["action"] == "service.created" and e["actor"] == "api-team" for e in events)


def serves_titles(host: HostProcess) -> Callable[[], bool]:
    return lambda: fetched_status(host, "titles", "/titles?ids=2") == 200


def fetched_status(host: HostProcess, service: str, path: str) -> int | None:
    with host.device() as device:
        response = device.get("/tv/fetch", params={"service": service, "path": path})
    if response.status_code != 200:
        return None
    status: int | None = response.json()["answers"][0].get("status")
    return status
