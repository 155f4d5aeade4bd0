"""A fleet: three host processes on one real Cassandra, deploys, compiles, and an outage."""

from __future__ import annotations

import asyncio
import time
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


def compiles(host: HostProcess) -> int:
    count: int = host.host_info()["cache"]["compiles"]
    return count


def test_a_deploy_reaches_the_fleet_and_compiles_once(
    fleet: list[HostProcess], built: dict[str, Path], tmp_path: Path, example_backend: str
) -> None:
    a, b, c = fleet
    a.cli("deploy", str(built["js"]), "--endpoint", "tv/home", "--config", "greeting=Hi")
    for other in (b, c):
        assert other.seconds_until("/tv/home", 200, limit=2.0) < 2.0
    assert [compiles(host) for host in fleet] == [1, 0, 0]
    assert [h.host_info()["cache"]["registry_loads"] for h in (b, c)] == [1, 1]

    later = HostProcess(
        tmp_path / "d", backends=example_backends(example_backend), registry_url=a.registry_url
    ).start()
    try:
        assert later.status("/tv/home") == 200
        assert compiles(later) == 0
        assert later.host_info()["cache"]["registry_loads"] == 1
    finally:
        later.stop()


def test_a_new_bundle_reaches_the_fleet_compiling_nothing(
    fleet: list[HostProcess], tmp_path: Path
) -> None:
    a, b, c = fleet
    scripts = {}
    for name in ("first", "second"):
        scripts[name] = tmp_path / f"{name}.js"
        scripts[name].write_text(
            f"import {{ json }} from '@scripthost/sdk';\n"
            f"export function handle() {{ return json({{ script: '{name}' }}); }}\n"
        )
    # The first bundle brings the runtime: compiled once, by the host that took the upload.
    a.cli("deploy", str(scripts["first"]), "--endpoint", "tv/first")
    for host in fleet:
        host.seconds_until("/tv/first", 200, limit=30.0)
    before = [host.host_info()["cache"] for host in fleet]

    a.cli("deploy", str(scripts["second"]), "--endpoint", "tv/second")
    for other in (b, c):
        assert other.seconds_until("/tv/second", 200, limit=2.0) < 2.0
    after = [host.host_info()["cache"] for host in fleet]

    assert [cache["compiles"] for cache in before] == [1, 0, 0]
    assert [cache["compiles"] for cache in after] == [1, 0, 0]
    # Only the deploying host ran the runtime's prepare; the others loaded its result.
    assert [cache["prepares"] for cache in after] == [2, 0, 0]
    assert [cache["bundle_loads"] for cache in after[1:]] == [2, 2]
    with b.device() as device:
        assert device.get("/tv/second").json() == {"script": "second"}


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
            seconds_until_status_ready(host, 503, limit=10.0)
        refused = a.cli("deploy", str(built["js"]), "--endpoint", "tv/home", check=False)
        assert refused.returncode == 1
        assert "503 registry_unavailable" in refused.stderr
        assert b.status("/tv/home") == 200
    finally:
        cassandra("up")

    for host in fleet:
        seconds_until_status_ready(host, 200, limit=60.0)
    again = a.cli("deploy", str(built["js"]), "--endpoint", "tv/home").stdout.strip()
    with b.admin() as admin:
        versions = [v["id"] for v in admin.get("/endpoints/tv/home/-/versions").json()["versions"]]
    assert versions == [again, *reversed(acknowledged)]
    assert b.seconds_until("/tv/home", 200, limit=2.0) < 2.0


def cassandra(command: str) -> None:
    local_cassandra.cassandra_sh(command)


def seconds_until_status_ready(host: HostProcess, status: int, limit: float) -> float:
    started = time.monotonic()
    while True:
        with host.device() as device:
            response = device.get("/readyz")
        if response.status_code == status:
            if status == 503:
                assert response.json()["status"] == "degraded"
            return time.monotonic() - started
        assert time.monotonic() - started < limit, f"/readyz of {host.url} never gave {status}"
        time.sleep(0.1)
