"""The project's own local Cassandra node (scripts/cassandra.sh), as the tests reach it.

`CASSANDRA_ADDRESS` and `CASSANDRA_CQL_PORT` are the same variables the script
reads, so a second work tree can run its suite against a node of its own on
another loopback address.
"""

from __future__ import annotations

import os
import subprocess

from host.build import REPO_ROOT

ADDRESS = os.environ.get("CASSANDRA_ADDRESS", "127.0.0.1")
CQL_PORT = int(os.environ.get("CASSANDRA_CQL_PORT", "9042"))


def url(keyspace: str) -> str:
    return f"cassandra://{ADDRESS}:{CQL_PORT}/{keyspace}"


def cassandra_sh(command: str) -> None:
    """`scripts/cassandra.sh up|down`; `up` on a running node does nothing."""
    subprocess.run([str(REPO_ROOT / "scripts" / "cassandra.sh"), command], check=True)
