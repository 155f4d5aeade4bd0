"""Which nodes of the local cluster are Up and Normal, as the running nodes see each other.

    ring.py --node dc1:127.0.0.11 ... [--port 9042] wait [--timeout S] [ADDRESS...]
    ring.py --node dc1:127.0.0.11 ... [--port 9042] status

nodetool would need JMX on every node; this asks each node over CQL for its
own gossip view (`system_views.gossip_info`) instead. A node is Up in another
node's eyes when its gossip heartbeat there advances between two looks (what
the failure detector itself judges by), and Normal when its gossip status is
NORMAL (it owns its token). `wait` returns once the named nodes (default:
all) answer CQL, every node that answers sees every other one that answers
as Up and Normal, and they all gossip the same schema version; stopped nodes
are left out, so a test can restart one node while another is down. The
cluster is started by scripts/cassandra.sh.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cassandra import DriverException
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable
from cassandra.policies import WhiteListRoundRobinPolicy

# Seconds between the two looks that tell whether heartbeats advance: gossip
# runs every second, and news of a node reaches the others within a round or two.
LOOK_APART_S = 3.0


@dataclass(frozen=True, slots=True)
class Gossip:
    generation: int
    heartbeat: int
    status: str
    schema: str


View = Mapping[str, Gossip]  # peer address -> what one node's gossip says of it


def _cluster(address: str, port: int) -> Cluster:
    """A driver that sends every statement to this node only."""
    return Cluster(
        [address],
        port=port,
        execution_profiles={
            EXEC_PROFILE_DEFAULT: ExecutionProfile(
                load_balancing_policy=WhiteListRoundRobinPolicy([address]), request_timeout=5
            )
        },
        connect_timeout=2,
        control_connection_timeout=2,
        schema_metadata_enabled=False,
        token_metadata_enabled=False,
    )


def look(address: str, port: int) -> View | None:
    """This node's gossip view, or None when it does not answer CQL."""
    cluster = _cluster(address, port)
    try:
        session = cluster.connect()
        rows = session.execute(
            'SELECT address, generation, heartbeat, status_with_port, "schema"'
            " FROM system_views.gossip_info"
        )
        return {
            row.address: Gossip(
                row.generation or 0,
                row.heartbeat or 0,
                (row.status_with_port or "").split(",")[0],
                row.schema or "",
            )
            for row in rows
        }
    except (NoHostAvailable, DriverException, OSError):
        return None
    finally:
        cluster.shutdown()


# Each node's own keyspaces, left out of its schema version.
LOCAL_KEYSPACES = {"system", "system_schema"}
# The schema tables whose rows make up a schema version, and what identifies a row.
SCHEMA_TABLES = {
    "keyspaces": "keyspace_name, durable_writes, replication, writetime(replication)",
    "tables": "keyspace_name, table_name, id, writetime(id)",
    "columns": "keyspace_name, table_name, column_name, type, writetime(type)",
}


def schema_rows(address: str, port: int) -> set[str] | None:
    """The node's own schema rows (with their write times), or None when it does not answer."""
    cluster = _cluster(address, port)
    try:
        session = cluster.connect()
        return {
            f"{table}: {tuple(row)}"
            for table, columns in SCHEMA_TABLES.items()
            for row in session.execute(f"SELECT {columns} FROM system_schema.{table}")
            if row.keyspace_name not in LOCAL_KEYSPACES
        }
    except (NoHostAvailable, DriverException, OSError):
        return None
    finally:
        cluster.shutdown()


def schema_differences(nodes: Iterable[str], port: int, limit: int = 20) -> list[str]:
    """The schema rows some answering nodes hold and others lack: why versions differ."""
    held = {node: rows for node in nodes if (rows := schema_rows(node, port)) is not None}
    everywhere = set.intersection(*held.values()) if held else set()
    lines = []
    for row in sorted(set.union(set(), *held.values()) - everywhere):
        holders = " ".join(node for node, rows in held.items() if row in rows)
        lines.append(f"{row[:300]} -- held by {holders}")
    return lines[:limit] + ([f"... {len(lines) - limit} more"] if len(lines) > limit else [])


def look_at_all(addresses: Iterable[str], port: int) -> dict[str, View]:
    views = {address: look(address, port) for address in addresses}
    return {address: view for address, view in views.items() if view is not None}


def states(
    nodes: Sequence[str], before: Mapping[str, View], after: Mapping[str, View]
) -> dict[str, str]:
    """nodetool's two letters per node, as every node that answered both times sees it."""
    observers = [node for node in nodes if node in before and node in after]
    result = {}
    for node in nodes:
        seen = [
            _seen(observer, node, before[observer].get(node), after[observer].get(node))
            for observer in observers
        ]
        up = node in observers and all(state[0] == "U" for state in seen)
        normal = bool(seen) and all(state[1] == "N" for state in seen)
        result[node] = ("U" if up else "D") + ("N" if normal else "?")
    return result


def _seen(observer: str, node: str, before: Gossip | None, after: Gossip | None) -> str:
    if after is None:
        return "D?"
    advanced = before is not None and (
        after.generation != before.generation or after.heartbeat > before.heartbeat
    )
    up = observer == node or advanced
    return ("U" if up else "D") + ("N" if after.status == "NORMAL" else "?")


def schemas(views: Mapping[str, View]) -> set[str]:
    """The schema versions the nodes gossip: one once they all agree."""
    return {gossip.schema for view in views.values() for gossip in view.values()}


def holders(views: Mapping[str, View]) -> str:
    """Which node gossips which schema version, as the nodes see themselves."""
    by_version: dict[str, list[str]] = {}
    for node, view in sorted(views.items()):
        if node in view:
            by_version.setdefault(view[node].schema, []).append(node)
    return "; ".join(f"{version}: {' '.join(nodes)}" for version, nodes in by_version.items())


@dataclass(frozen=True, slots=True)
class Survey:
    seen: dict[str, str]  # node -> UN/DN/..., as the others see it
    answering: set[str]
    live: Mapping[str, View]  # what each answering node gossips of the answering ones

    @property
    def versions(self) -> set[str]:
        return schemas(self.live)


def survey(nodes: Sequence[str], port: int) -> Survey:
    """Each node's state, which nodes answered CQL, and what they gossip of each other."""
    before = look_at_all(nodes, port)
    time.sleep(LOOK_APART_S)
    after = look_at_all(nodes, port)
    answering = set(before) & set(after)
    # A node that has just started may not have heard of every other one yet.
    live = {
        node: {peer: after[node][peer] for peer in answering if peer in after[node]}
        for node in answering
    }
    return Survey(states(nodes, before, after), answering, live)


def wait(
    nodes: Sequence[str], wanted: Sequence[str], port: int, timeout_s: float
) -> dict[str, str]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = survey(nodes, port)
        ready = all(found.seen[node] == "UN" for node in found.answering | set(wanted))
        if ready and len(found.versions) == 1:
            return found.seen
        if time.monotonic() > deadline:
            raise TimeoutError(found)


def report(layout: Mapping[str, str], seen: Mapping[str, str]) -> str:
    return "\n".join(f"{seen[node]}  {layout[node]}  {node}" for node in layout)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--node", action="append", required=True, help="DC:ADDRESS")
    parser.add_argument("--port", type=int, default=9042)
    commands = parser.add_subparsers(dest="command", required=True)
    waiting = commands.add_parser("wait")
    waiting.add_argument("--timeout", type=float, default=300.0)
    waiting.add_argument("addresses", nargs="*")
    commands.add_parser("status")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    layout = {address: dc for dc, _, address in (item.partition(":") for item in args.node)}
    nodes = list(layout)
    if args.command == "status":
        found = survey(nodes, args.port)
        print(report(layout, found.seen))
        if len(found.versions) > 1:
            print(f"the running nodes disagree on the schema: {holders(found.live)}")
            for line in schema_differences(found.answering, args.port):
                print(f"  {line}")
        agreed = len(found.versions) == 1
        return 0 if all(state == "UN" for state in found.seen.values()) and agreed else 1
    wanted = args.addresses or nodes
    started = time.monotonic()
    try:
        seen = wait(nodes, wanted, args.port, args.timeout)
    except TimeoutError as error:
        [found] = error.args
        print(f"not every node was Up/Normal in {args.timeout:.0f} s:", file=sys.stderr)
        print(report(layout, found.seen), file=sys.stderr)
        if len(found.versions) > 1:
            print(f"schema versions gossiped: {holders(found.live)}", file=sys.stderr)
            for line in schema_differences(found.answering, args.port):
                print(f"  {line}", file=sys.stderr)
        return 1
    print(report(layout, seen))
    print(f"{', '.join(wanted)} up and normal ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
