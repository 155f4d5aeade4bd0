"""A fleet on a real Cassandra cluster: replicas die, a data centre goes dark, nothing is lost.

The cluster is the project's own (`scripts/cassandra.sh cluster-up`): two data
centres of three nodes on their own loopback addresses. Every test leaves it
whole again; the module starts it if it is not running and then stops it.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from registry import Action, open_registry
from tests.support.cassandra import CQL_PORT, LocalCluster, node_local
from tests.support.hosts import HostProcess, example_backends
from tests.support.polling import wait_until

pytestmark = pytest.mark.cluster

HOME = "/tv/home"


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    cluster = LocalCluster.configured()
    sizes = {dc: len(nodes) for dc, nodes in cluster.dcs.items()}
    assert sizes == {"dc1": 3, "dc2": 3}, "these tests need two data centres of three nodes"
    started_here = not cluster.answers()
    cluster.up()
    yield cluster
    if started_here:
        cluster.down()


@pytest.fixture(scope="module")
def created(cluster: LocalCluster) -> Iterator[list[str]]:
    """The module's keyspaces, dropped at its end once no replica has writes pending for them.

    (A node that receives a hint for a keyspace while dropping it can fail the
    drop and then disagree about the schema until it restarts.)
    """
    keyspaces: list[str] = []
    yield keyspaces
    if keyspaces and cluster.settled():
        with cluster.session(cluster.nodes[0]) as session:
            for keyspace in keyspaces:
                session.execute(f"DROP KEYSPACE IF EXISTS {keyspace}", timeout=120)


@pytest.fixture
def keyspaces(cluster: LocalCluster, created: list[str]) -> Iterator[Callable[[str], str]]:
    """Creates a keyspace with the given replication; every node runs again after the test."""

    def create(replication: str) -> str:
        keyspace = f"cluster_{uuid.uuid4().hex[:12]}"
        url = cluster.url(keyspace, replication=replication, local_dc="dc1")
        created.append(keyspace)
        asyncio.run(_open_and_close(url))
        return keyspace

    yield create
    cluster.up()


async def _open_and_close(url: str) -> None:
    await (await open_registry(url, Path("."))).close()


@pytest.fixture
def start_hosts(
    tmp_path: Path, example_backend: str
) -> Iterator[Callable[[str, Sequence[str]], list[HostProcess]]]:
    started: list[HostProcess] = []

    def start(url: str, names: Sequence[str]) -> list[HostProcess]:
        hosts = [
            HostProcess(
                tmp_path / name, backends=example_backends(example_backend), registry_url=url
            )
            for name in names
        ]
        for host in hosts:
            started.append(host.start())
        return hosts

    yield start
    for host in started:
        host.stop()


def test_no_node_drops_a_starting_peer_from_gossip(cluster: LocalCluster) -> None:
    """A node that dropped a peer as a tokenless "fat client" ignores that peer's
    schema versions until it restarts (CASSANDRA-17883): a schema change it
    missed it never pulls, and the cluster disagrees for good."""
    dropped = {
        node: [line for line in cluster.log_since_start(node) if "FatClient" in line]
        for node in cluster.nodes
    }
    assert {node: lines for node, lines in dropped.items() if lines} == {}


def test_hosts_creating_one_keyspace_at_once_leave_the_nodes_agreeing_on_its_schema(
    cluster: LocalCluster, created: list[str]
) -> None:
    """Each `CREATE TABLE IF NOT EXISTS` on a node that had not heard of the table yet
    would create it again under another id, a disagreement no node ever resolves."""
    keyspace = f"cluster_{uuid.uuid4().hex[:12]}"
    created.append(keyspace)
    url = cluster.url(keyspace, replication="dc1:3,dc2:3", local_dc="dc1")

    async def open_together() -> None:
        registries = await asyncio.gather(*(open_registry(url, Path(".")) for _ in range(4)))
        for registry in registries:
            await registry.close()

    asyncio.run(open_together())
    wait_until(
        cluster.schema_versions,
        lambda versions: len(versions) == 1,
        limit=60.0,
        interval=2.0,
        failure=lambda versions: f"the nodes disagree on the schema: {versions}",
    )


def test_a_killed_replica_costs_no_request_no_deploy_and_no_data(
    cluster: LocalCluster,
    keyspaces: Callable[[str], str],
    start_hosts: Callable[[str, Sequence[str]], list[HostProcess]],
    built: dict[str, Path],
) -> None:
    keyspace = keyspaces("dc1:3")
    url = cluster.url(keyspace, replication="dc1:3", local_dc="dc1")
    fleet = start_hosts(url, "abc")
    a = fleet[0]
    acknowledged = [deploy(a, built["js"])]
    for host in fleet:
        host.wait_for_status(HOME, 200)
    victim = cluster.dcs["dc1"][1]

    with DeviceTraffic(fleet) as traffic:
        cluster.kill(victim)
        # While Cassandra has not yet noticed (its failure detector takes
        # 10-30 s), statements sent to the dead node time out: these deploys
        # must wait it out, not fail. The Python module is new: one compile.
        acknowledged += [deploy(a, built[name]) for name in ("v2", "js", "py", "v2")]
        for host in fleet:
            wait_until_serving(host, acknowledged[-1])

    assert traffic.failures() == {}
    assert all(traffic.served[host.url] > 0 for host in fleet)
    assert [host.compiles() for host in fleet] == [3, 0, 0]
    latest = asyncio.run(latest_seq(url))
    for host in fleet:
        assert_gap_free(host, latest)
    assert versions(a) == acknowledged

    cluster.up(victim)
    # Hints (and the batchlog) bring the restarted replica what it missed.
    dc1 = cluster.dcs["dc1"]
    contents = wait_until_replicas_agree(cluster, keyspace, dc1)
    held = contents[victim]
    assert sorted(seq for (seq,) in held["events"]) == list(range(1, latest + 1))
    assert sorted(number for number, _ in held["versions"]) == list(range(1, len(acknowledged) + 1))


def test_two_replicas_down_refuse_deploys_and_leave_nothing_half_written(
    cluster: LocalCluster,
    keyspaces: Callable[[str], str],
    start_hosts: Callable[[str, Sequence[str]], list[HostProcess]],
    built: dict[str, Path],
) -> None:
    url = cluster.url(keyspaces("dc1:3"), replication="dc1:3", local_dc="dc1")
    fleet = start_hosts(url, "ab")
    a, b = fleet
    acknowledged = [deploy(a, built[name]) for name in ("js", "v2")]
    b.wait_for_status(HOME, 200)
    down = cluster.dcs["dc1"][1:]

    with DeployLoop(a, built["v2"]) as loop:
        time.sleep(1.0)
        cluster.kill(*down)
        for host in fleet:
            host.wait_for_readiness(503)
    acknowledged += loop.acknowledged

    refused = a.cli("deploy", str(built["js"]), "--endpoint", "tv/home", check=False)
    assert refused.returncode == 1
    assert "503 registry_unavailable" in refused.stderr
    for host in fleet:
        assert host.status(HOME) == 200

    cluster.up(*down)
    for host in fleet:
        host.wait_for_readiness(200)
    record = asyncio.run(read_back(url))
    # Every version there is whole (its module, its event) and the feed has
    # one change per event, none missing.
    assert record.seqs == list(range(1, record.events + 1))
    assert sorted(record.added) == sorted(record.versions)
    assert record.active == record.last_activated
    assert record.active is not None
    wait_until_serving(b, record.active)
    # Acknowledged deploys all stayed; a refused one may have landed whole.
    assert set(acknowledged) <= set(record.versions)
    assert len(record.versions) - len(acknowledged) <= loop.refused

    after = deploy(a, built["v2"])
    wait_until_serving(b, after)


def test_each_data_centre_serves_and_deploys_on_its_own(
    cluster: LocalCluster,
    keyspaces: Callable[[str], str],
    start_hosts: Callable[[str, Sequence[str]], list[HostProcess]],
    built: dict[str, Path],
) -> None:
    keyspace = keyspaces("dc1:3,dc2:3")
    urls = {dc: cluster.url(keyspace, replication="dc1:3,dc2:3", local_dc=dc) for dc in cluster.dcs}
    (east,) = start_hosts(urls["dc1"], "e")
    (west,) = start_hosts(urls["dc2"], "w")
    assert cql_peers(east) <= set(cluster.dcs["dc1"])
    assert cql_peers(west) <= set(cluster.dcs["dc2"])

    first = deploy(east, built["v2"])
    # bench/cluster.py measured 54 ms (p50) and 131 ms at most; the bound
    # leaves room for a loaded machine.
    wait_until_serving(west, first, limit=10.0)
    assert west.compiles() == 0

    dc1 = cluster.dcs["dc1"]
    with DeviceTraffic([west]) as traffic:
        cluster.kill(*dc1)
        second = deploy(west, built["v2"])
        wait_until_serving(west, second)
        third = deploy(west, built["v2"])
        wait_until_serving(west, third)
    assert traffic.failures() == {}
    assert traffic.served[west.url] > 0
    assert east.status(HOME) == 200

    cluster.up(*dc1)
    east.wait_for_readiness(200)
    # dc1 goes on from what dc2 wrote while it was dark, whether or not that
    # has reached dc1's replicas yet, and then serves it all.
    fourth = deploy(east, built["v2"])
    wait_until_serving(west, fourth, limit=10.0)
    wait_until_serving(east, fourth, limit=120.0)
    # What dc2 wrote while dc1 was dark reaches dc1's replicas as hints, after
    # dc1's own deploy has already been served; until then dc1 lists less.
    for host in (east, west):
        wait_until_listed(host, [first, second, third, fourth], limit=120.0)
    latest = asyncio.run(latest_seq(urls["dc2"]))
    for host in (east, west):
        assert_gap_free(host, latest)
    assert east.compiles() + west.compiles() == 1


# Deploys and what hosts serve


def deploy(host: HostProcess, module: Path) -> str:
    return host.cli("deploy", str(module), "--endpoint", "tv/home").stdout.strip()


def served_version(host: HostProcess) -> str | None:
    """The version the endpoint answered from (the v2 script says it; the examples do not)."""
    with host.device() as device:
        response = device.get(HOME, params={"user": "42"})
    if response.status_code != 200:
        return None
    version: str | None = response.json().get("version")
    return version


def wait_until_serving(host: HostProcess, version: str, limit: float = 60.0) -> None:
    wait_until(
        lambda: served_version(host),
        lambda served: served == version,
        limit=limit,
        interval=0.05,
        failure=lambda served: f"{host.url} serves {served}, not {version}, after {limit} s",
    )


def wait_until_listed(host: HostProcess, expected: list[str], limit: float) -> None:
    wait_until(
        lambda: versions(host),
        lambda listed: listed == expected,
        limit=limit,
        interval=0.2,
        failure=lambda listed: f"{host.url} lists {listed}, not {expected}",
    )


def versions(host: HostProcess) -> list[str]:
    with host.admin() as admin:
        found = admin.get(f"/endpoints{HOME}/-/versions").raise_for_status().json()["versions"]
    return [version["id"] for version in reversed(found)]


def cql_peers(host: HostProcess) -> set[str]:
    """The Cassandra nodes the host process holds connections to."""
    assert host.process is not None
    connections = psutil.Process(host.process.pid).net_connections(kind="tcp")
    return {c.raddr.ip for c in connections if c.raddr and c.raddr.port == CQL_PORT}


class DeviceTraffic(threading.Thread):
    """Devices calling the endpoint on every host, one after another, until stopped."""

    def __init__(self, hosts: Sequence[HostProcess]) -> None:
        super().__init__(daemon=True)
        self.hosts = hosts
        self.served: Counter[str] = Counter()
        self.statuses: Counter[tuple[str, int]] = Counter()
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            for host in self.hosts:
                status = host.status(HOME)
                self.statuses[host.url, status] += 1
                if status == 200:
                    self.served[host.url] += 1
            time.sleep(0.02)

    def failures(self) -> dict[tuple[str, int], int]:
        return {key: count for key, count in self.statuses.items() if key[1] != 200}

    def __enter__(self) -> DeviceTraffic:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._halt.set()
        self.join()


class DeployLoop(threading.Thread):
    """One deploy after another until stopped; remembers which were acknowledged."""

    def __init__(self, host: HostProcess, module: Path) -> None:
        super().__init__(daemon=True)
        self.host = host
        self.module = module
        self.acknowledged: list[str] = []
        self.refused = 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            done = self.host.cli("deploy", str(self.module), "--endpoint", "tv/home", check=False)
            if done.returncode == 0:
                self.acknowledged.append(done.stdout.strip())
            else:
                self.refused += 1

    def __enter__(self) -> DeployLoop:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._halt.set()
        self.join()


# The registry's record, read back


async def latest_seq(url: str) -> int:
    registry = await open_registry(url, Path("."))
    try:
        return await registry.latest_seq()
    finally:
        await registry.close()


@dataclass
class Record:
    seqs: list[int]
    events: int
    versions: list[str]
    added: list[str]
    active: str | None
    last_activated: str | None


async def read_back(url: str) -> Record:
    """What the registry holds about the endpoint (LOCAL_QUORUM), every module hash-checked."""
    registry = await open_registry(url, Path("."))
    try:
        found = await registry.list_versions("tv", "/home")
        for version in found:
            await registry.get_module(version.module_hash)
        events = await registry.audit_log(limit=10_000)
        activated = [e for e in events if e.action is Action.VERSION_ACTIVATED]
        return Record(
            seqs=[change.seq for change in await registry.changes_since(0)],
            events=len(events),
            versions=[version.id for version in found],
            added=[str(e.details["version"]) for e in events if e.action is Action.VERSION_ADDED],
            active=(await registry.get_endpoint("tv", "/home")).active_version,
            last_activated=str(activated[0].details["version"]) if activated else None,
        )
    finally:
        await registry.close()


def assert_gap_free(host: HostProcess, latest: int, limit: float = 60.0) -> None:
    """The host applied every change once, in order, from the seq it started at to `latest`.

    A host can serve a version before its feed has passed every change before
    it (it reads the endpoint itself; the feed waits for the changes a replica
    has not caught up on yet), so the feed is given time to reach `latest`.
    """
    started = time.monotonic()
    while applied_up_to(host) < latest and time.monotonic() - started < limit:
        time.sleep(0.1)
    events = host.log_events()
    seq: int = [e["seq"] for e in events if e.get("event") == "host ready"][-1]
    for event in events:
        if event.get("event") == "changes applied":
            assert event["first_seq"] == seq + 1, f"{host.url} skipped from {seq}: {event}"
            assert event["changes"] == event["last_seq"] - seq
            seq = event["last_seq"]
    assert seq == latest


def applied_up_to(host: HostProcess) -> int:
    applied = [e["last_seq"] for e in host.log_events() if e.get("event") == "changes applied"]
    return max(applied, default=0)


# What each replica holds


def wait_until_replicas_agree(
    cluster: LocalCluster, keyspace: str, nodes: Sequence[str], limit: float = 180.0
) -> dict[str, dict[str, list[Any]]]:
    """Each node's own copy of the keyspace, once the copies are equal (hints delivered)."""
    return wait_until(
        lambda: {node: replica_contents(cluster, node, keyspace) for node in nodes},
        lambda contents: all(copy == contents[nodes[0]] for copy in contents.values()),
        limit=limit,
        interval=2.0,
        failure=lambda contents: f"the replicas never agreed: {differences(contents)}",
    )


def differences(contents: dict[str, dict[str, list[Any]]]) -> dict[str, dict[str, int]]:
    """Per table where the copies differ, how many rows each node holds."""
    copies = list(contents.values())
    tables = [table for table in copies[0] if any(c[table] != copies[0][table] for c in copies)]
    return {table: {node: len(copy[table]) for node, copy in contents.items()} for table in tables}


def replica_contents(cluster: LocalCluster, node: str, keyspace: str) -> dict[str, list[Any]]:
    """One node's own rows (NODE_LOCAL), blobs as keys and write times; leases left out."""
    with cluster.session(node) as session:
        tables = {
            "meta": "seq",
            "endpoints": "namespace, path, active_version, enabled, config, quotas",
            "versions": "number, module_hash",
            "version_numbers": "last",
            "events": "seq",
            "events_by_namespace": "seq",
            "modules": "hash, size, chunks",
            "module_chunks": "hash, chunk, writetime(data)",
            "artifacts": "module_hash, fingerprint, sha256, chunks",
            "artifact_chunks": "module_hash, fingerprint, chunk, writetime(data)",
        }
        return {
            table: sorted(
                (
                    tuple(row)
                    for row in node_local(session, f"SELECT {columns} FROM {keyspace}.{table}")
                ),
                key=repr,
            )
            for table, columns in tables.items()
        }
