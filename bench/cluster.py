"""The registry on a Cassandra cluster: what replication costs, and how fast a deploy travels.

    python -m bench.cluster [--repeats N]

Needs the project's local node (scripts/cassandra.sh up, at CASSANDRA_ADDRESS)
and its cluster (scripts/cassandra.sh cluster-up: two data centres of three
nodes); starts whichever is not running, and stops the cluster again if it
started it. Three registries on fresh keyspaces, side by side:

  single node   replication factor 1 on the local node (what `make test` uses)
  RF 3          one data centre of three replicas (dc1:3), hosts in dc1
  RF 3+3        two data centres of three replicas each (dc1:3,dc2:3)

For each: one mutation (a quota change: write lease, reads, logged batch,
release), an empty change-feed poll (what every host does each refresh
interval), an 8 MiB artifact read, and end to end `scripthost deploy` of an
already-compiled module on a real host until that host answered. Across data
centres: from that command's return on a dc1 host until a dc2 host serves the
new version (and, for comparison, another dc1 host). Then a new script (a
bundle no cache has seen) from `scripthost deploy` on a dc1 host until every
host answers it. Hosts poll every 0.2 s.
Results go to bench/results/cluster.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.distinct_scripts import script_source
from host.build import REPO_ROOT, build_all_cached
from registry import Registry, open_registry
from tests.support import cassandra
from tests.support.hosts import HostProcess, example_backends
from tests.support.servers import example_backend

RESULTS = REPO_ROOT / "bench" / "results"
MODULE = REPO_ROOT / "tests" / "serve" / "scripts" / "home_v2.js"
ARTIFACT_BYTES = 8 << 20
SETUPS = {"single node": "1", "RF 3": "dc1:3", "RF 3+3": "dc1:3,dc2:3"}


def registry_url(cluster: cassandra.LocalCluster, setup: str, keyspace: str, dc: str) -> str:
    if setup == "single node":
        return cassandra.url(keyspace)
    return cluster.url(keyspace, replication=SETUPS[setup], local_dc=dc)


async def timed(call: Callable[[], Awaitable[Any]], repeats: int) -> dict[str, float]:
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        await call()
        seconds.append(time.perf_counter() - started)
    return summary(seconds)


def summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p95_ms": round(ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))], 1),
        "max_ms": round(ms[-1], 1),
    }


async def registry_costs(url: str, repeats: int) -> dict[str, dict[str, float]]:
    registry: Registry = await open_registry(url, Path("."))
    try:
        await registry.put_endpoint("bench", "/quotas", methods=["GET"], actor="bench")
        turn = iter(range(10**9))

        async def mutate() -> None:
            quotas = {"fuel": 1_000_000_000 + next(turn)}
            await registry.set_endpoint_quotas("bench", "/quotas", quotas, actor="bench")

        latest = await registry.latest_seq()
        module_hash = await registry.put_module(b"\0asm\x01\0\0\0 bench")
        await registry.put_artifact(module_hash, "bench", os.urandom(ARTIFACT_BYTES))
        return {
            "mutation": await timed(mutate, repeats),
            "feed poll": await timed(lambda: registry.changes_since(latest + repeats), repeats),
            "8 MiB artifact read": await timed(
                lambda: registry.get_artifact(module_hash, "bench"), max(3, repeats // 4)
            ),
        }
    finally:
        await registry.close()


def deploy(host: HostProcess, module: Path) -> str:
    return host.cli("deploy", str(module), "--endpoint", "bench/home").stdout.strip()


def served_version(host: HostProcess) -> str | None:
    with host.device() as device:
        response = device.get("/bench/home")
    return response.json().get("version") if response.status_code == 200 else None


def seconds_until_serving(host: HostProcess, version: str, limit: float = 60.0) -> float:
    started = time.perf_counter()
    while served_version(host) != version:
        if time.perf_counter() - started > limit:
            raise TimeoutError(f"{host.url} did not serve {version} in {limit} s")
        time.sleep(0.005)
    return time.perf_counter() - started


def seconds_until_every_host_serves(
    hosts: list[HostProcess], scratch: Path, n: int, limit: float = 60.0
) -> float:
    """Seconds from deploying a script new to every cache on the first host (a
    bundle, as `scripthost deploy` makes one) until every host answers it."""
    source = scratch / f"new-{uuid.uuid4().hex[:12]}.js"
    source.write_text(script_source("js", n, source.stem))
    endpoint = f"bench/{source.stem}"
    started = time.perf_counter()
    hosts[0].cli("deploy", str(source), "--endpoint", endpoint)
    for host in hosts:
        with host.device() as device:
            while device.get(f"/{endpoint}").status_code != 200:
                if time.perf_counter() - started > limit:
                    raise TimeoutError(f"{host.url} did not serve {endpoint} in {limit} s")
                time.sleep(0.005)
    return time.perf_counter() - started


def deploys(
    cluster: cassandra.LocalCluster,
    setup: str,
    keyspace: str,
    module: Path,
    backend: str,
    scratch: Path,
    repeats: int,
) -> dict[str, dict[str, float]]:
    """`scripthost deploy` on a dc1 host; then how long until the other hosts serve it."""
    dcs = ["dc1", "dc1", "dc2"] if setup == "RF 3+3" else ["dc1", "dc1"]
    hosts = [
        HostProcess(
            scratch / f"{setup}-{n}".replace(" ", "-"),
            backends=example_backends(backend),
            registry_url=registry_url(cluster, setup, keyspace, dc),
        )
        for n, dc in enumerate(dcs)
    ]
    for host in hosts:
        host.start()
    try:
        first, *others = hosts
        seconds_until_serving(first, deploy(first, module))  # compiles once, warms every path
        times: dict[str, list[float]] = {"deploy": [], "same DC": [], "other DC": []}
        for _ in range(repeats):
            started = time.perf_counter()
            version = deploy(first, module)
            times["deploy"].append(time.perf_counter() - started)
            for host, dc in zip(others, dcs[1:], strict=True):
                label = "same DC" if dc == "dc1" else "other DC"
                times[label].append(seconds_until_serving(host, version))
        times["new script, every host"] = [
            seconds_until_every_host_serves(hosts, scratch, n) for n in range(repeats)
        ]
        return {label: summary(values) for label, values in times.items() if values}
    finally:
        for host in hosts:
            host.stop()


def run(repeats: int, scratch: Path) -> dict[str, Any]:
    cassandra.cassandra_sh("up")
    cluster = cassandra.LocalCluster.configured()
    started_cluster = not cluster.answers()
    cluster.up()
    (module,) = build_all_cached([MODULE])
    figures: dict[str, Any] = {}
    try:
        with example_backend() as backend:
            for setup in SETUPS:
                keyspace = f"bench_{uuid.uuid4().hex[:12]}"
                url = registry_url(cluster, setup, keyspace, "dc1")
                print(f"{setup}: registry operations ...", flush=True)
                costs = asyncio.run(registry_costs(url, repeats))
                print(f"{setup}: deploys ...", flush=True)
                ends = deploys(cluster, setup, keyspace, module, backend, scratch, repeats)
                figures[setup] = {"replication": SETUPS[setup], **costs, **ends}
    finally:
        if started_cluster:
            cluster.down()
    return {
        "machine": f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}",
        "cpus": os.cpu_count(),
        "repeats": repeats,
        "setups": figures,
    }


def markdown(document: dict[str, Any]) -> str:
    setups = document["setups"]
    rows = list(dict.fromkeys(row for figures in setups.values() for row in figures))
    rows.remove("replication")
    single = setups["single node"]
    lines = [
        f"Registry on Cassandra 5.0 ({document['machine']}, {document['cpus']} cores shared "
        "with every node and host): the local node and a two-DC cluster of six nodes, "
        f"each with a 512 MiB heap, on loopback. {document['repeats']} repeats; p50 / p95 / "
        "max in ms; in brackets, p50 over the single node's.",
        "",
        "| | " + " | ".join(f"{name} ({setups[name]['replication']})" for name in setups) + " |",
        "| --- |" + " ---: |" * len(setups),
    ]
    for row in rows:
        cells = []
        for figures in setups.values():
            cell = figures.get(row)
            if cell is None:
                cells.append("")
                continue
            text = f"{cell['p50_ms']:g} / {cell['p95_ms']:g} / {cell['max_ms']:g}"
            if row in single and figures is not single:
                text += f" ({cell['p50_ms'] / single[row]['p50_ms']:.1f}x)"
            cells.append(text)
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="scripthost-bench-"))
    figures = run(args.repeats, scratch)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "cluster.json").write_text(json.dumps(figures, indent=2) + "\n")
    table = markdown(figures)
    (RESULTS / "cluster.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
