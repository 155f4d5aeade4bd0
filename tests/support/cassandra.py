"""The project's own Cassandra (scripts/cassandra.sh), as the tests reach it.

`CASSANDRA_ADDRESS` and `CASSANDRA_CQL_PORT` are the same variables the script
reads, so a second work tree can run its suite against a node of its own on
another loopback address. The cluster's layout comes from the script itself
(`cluster-nodes`), which reads `CASSANDRA_CLUSTER_DC1` and `_DC2`.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import WhiteListRoundRobinPolicy

from host.build import REPO_ROOT

ADDRESS = os.environ.get("CASSANDRA_ADDRESS", "127.0.0.1")
CQL_PORT = int(os.environ.get("CASSANDRA_CQL_PORT", "9042"))
SCRIPT = REPO_ROOT / "scripts" / "cassandra.sh"
# Cassandra's NODE_LOCAL consistency (not in the driver's list): read one
# replica's own copy, which the cluster's nodes allow for tests.
NODE_LOCAL = 11


def url(keyspace: str) -> str:
    return f"cassandra://{ADDRESS}:{CQL_PORT}/{keyspace}"


def cassandra_sh(command: str, *addresses: str) -> str:
    """`scripts/cassandra.sh COMMAND`; `up` on a running node does nothing."""
    completed = subprocess.run(
        [str(SCRIPT), command, *addresses], capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"cassandra.sh {command} failed:\n{completed.stdout}{completed.stderr}")
    return completed.stdout


@dataclass(frozen=True)
class LocalCluster:
    """The cluster `cassandra.sh cluster-up` runs: data centre name -> node addresses."""

    dcs: dict[str, list[str]]

    @classmethod
    def configured(cls) -> LocalCluster:
        dcs: dict[str, list[str]] = {}
        for line in cassandra_sh("cluster-nodes").splitlines():
            dc, address = line.split()
            dcs.setdefault(dc, []).append(address)
        return cls(dcs)

    @property
    def nodes(self) -> list[str]:
        return [address for addresses in self.dcs.values() for address in addresses]

    def url(self, keyspace: str, *, replication: str, local_dc: str) -> str:
        """Every node as a contact point: the host must pick its own data centre's."""
        return (
            f"cassandra://{','.join(self.nodes)}:{CQL_PORT}/{keyspace}"
            f"?replication={replication}&local_dc={local_dc}"
        )

    def up(self, *addresses: str) -> None:
        """Start these nodes (default: all) and wait until the running nodes see them UN."""
        cassandra_sh("cluster-up", *addresses)

    def down(self, *addresses: str) -> None:
        cassandra_sh("cluster-down", *addresses)

    def kill(self, *addresses: str) -> None:
        cassandra_sh("cluster-kill", *addresses)

    def settled(self, limit: float = 120.0) -> bool:
        """Wait until no node holds hints or batches still to deliver; False if they stay."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            pending = 0
            for node in self.nodes:
                with self.session(node) as session:
                    pending += len(node_local(session, "SELECT * FROM system_views.pending_hints"))
                    pending += len(node_local(session, "SELECT id FROM system.batches"))
            if not pending:
                return True
            time.sleep(2.0)
        return False

    def log_since_start(self, address: str) -> list[str]:
        """The node's log lines since its JVM last started."""
        log = REPO_ROOT / ".cassandra" / "cluster" / address / "system.log"
        lines = log.read_text(errors="replace").splitlines()
        starts = [number for number, line in enumerate(lines) if "Node configuration:[" in line]
        return lines[starts[-1] :] if starts else lines

    def schema_versions(self) -> dict[str, set[str]]:
        """Schema version -> the nodes that hold it, each node asked about itself."""
        holders: dict[str, set[str]] = {}
        for node in self.nodes:
            with self.session(node) as session:
                [row] = session.execute("SELECT schema_version FROM system.local")
                holders.setdefault(str(row.schema_version), set()).add(node)
        return holders

    def answers(self) -> bool:
        try:
            with self.session(self.nodes[0]):
                return True
        except Exception:
            return False

    @contextmanager
    def session(self, address: str) -> Iterator[Session]:
        """A session that sends every statement to this node only."""
        policy = WhiteListRoundRobinPolicy([address])
        profile = ExecutionProfile(load_balancing_policy=policy, request_timeout=30)
        cluster = Cluster(
            [address], port=CQL_PORT, execution_profiles={EXEC_PROFILE_DEFAULT: profile}
        )
        try:
            yield cluster.connect()
        finally:
            cluster.shutdown()


def node_local(session: Session, cql: str, parameters: Sequence[Any] = ()) -> list[Any]:
    """What the node the session talks to holds itself, whatever its replicas say."""
    statement = session.prepare(cql)
    statement.consistency_level = NODE_LOCAL
    return list(session.execute(statement, parameters))
