"""A fleet: three host processes on one real Cassandra, deploys, compiles, and an outage."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry import open_registry
from tests.registry.conftest import cassandra_up
from tests.support import cassandra as local_cassandra
from tests.support.hosts import HostProcess, example_backends


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
    for other in (b, c):
        assert other.seconds_until("/tv/home", 200, limit=2.0) < 2.0
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
    b.seconds_until("/tv/home", 200, limit=2.0)

    cassandra("down")
    try:
        for host in fleet:
            assert host.status("/tv/home") == 200
        for host in fleet:
            host.seconds_until_ready(503, limit=10.0)
        refused = a.cli("deploy", str(built["js"]), "--endpoint", "tv/home", check=False)
        assert refused.returncode == 1
        assert "503 registry_unavailable" in refused.stderr
        assert b.status("/tv/home") == 200
    finally:
        cassandra("up")

    for host in fleet:
        host.seconds_until_ready(200, limit=60.0)
    again = a.cli("deploy", str(built["js"]), "--endpoint", "tv/home").stdout.strip()
    with b.admin() as admin:
        versions = [v["id"] for v in admin.get("/endpoints/tv/home/-/versions").json()["versions"]]
    assert versions == [again, *reversed(acknowledged)]
    assert b.seconds_until("/tv/home", 200, limit=2.0) < 2.0


def cassandra(command: str) -> None:
    local_cassandra.cassandra_sh(command)
