"""The registry's keyspace and tables, created and migrated by the host itself."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cassandra.cluster import Session
from cassandra.pool import Host

from registry._cassandra_session import change_schema, run
from registry.errors import RegistryUnavailable

# Events live in partitions of this many consecutive seqs, so the change feed
# reads a few rows from one or two partitions and no partition grows forever.
EVENTS_PER_BUCKET = 10_000
# Blobs are written in chunks far below the mutation size limit (half a
# commit log segment, 16 MiB by default).
CHUNK_BYTES = 1 << 20

# Each migration runs once, in order; `meta.schema_version` says how far a
# keyspace has come. Append; never change what one does. `{ks}` is the keyspace.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE IF NOT EXISTS {ks}.meta (id text PRIMARY KEY, seq bigint,"
        " schema_version int, default_quotas text)",
        "CREATE TABLE IF NOT EXISTS {ks}.endpoints (namespace text, path text, methods text,"
        " config text, quotas text, enabled boolean, active_version int, created_at text,"
        " updated_at text, PRIMARY KEY (namespace, path))",
        "CREATE TABLE IF NOT EXISTS {ks}.versions (namespace text, path text, number int,"
        " language text, module_hash text, author text, message text, has_source boolean,"
        " created_at text, PRIMARY KEY ((namespace, path), number))"
        " WITH CLUSTERING ORDER BY (number DESC)",
        # Sources can be large; kept out of the logged batch that records a version.
        "CREATE TABLE IF NOT EXISTS {ks}.version_sources (namespace text, path text, number int,"
        " source text, PRIMARY KEY ((namespace, path), number))",
        "CREATE TABLE IF NOT EXISTS {ks}.version_numbers (namespace text, path text, last int,"
        " PRIMARY KEY ((namespace, path)))",
        "CREATE TABLE IF NOT EXISTS {ks}.namespaces (namespace text PRIMARY KEY, enabled boolean,"
        " quotas text)",
        "CREATE TABLE IF NOT EXISTS {ks}.events (bucket bigint, seq bigint, at text, actor text,"
        " action text, namespace text, path text, details text, PRIMARY KEY (bucket, seq))"
        " WITH CLUSTERING ORDER BY (seq ASC)",
        "CREATE TABLE IF NOT EXISTS {ks}.events_by_namespace (namespace text, seq bigint, at text,"
        " actor text, action text, path text, details text, PRIMARY KEY (namespace, seq))"
        " WITH CLUSTERING ORDER BY (seq DESC)",
        "CREATE TABLE IF NOT EXISTS {ks}.leases (key text PRIMARY KEY, holder text,"
        " expires_at double)",
        "CREATE TABLE IF NOT EXISTS {ks}.module_chunks (hash text, chunk int, data blob,"
        " PRIMARY KEY (hash, chunk))",
        "CREATE TABLE IF NOT EXISTS {ks}.modules (hash text PRIMARY KEY, size bigint, chunks int)",
        "CREATE TABLE IF NOT EXISTS {ks}.artifact_chunks (module_hash text, fingerprint text,"
        " chunk int, data blob, PRIMARY KEY ((module_hash, fingerprint), chunk))",
        "CREATE TABLE IF NOT EXISTS {ks}.artifacts (module_hash text, fingerprint text,"
        " sha256 text, size bigint, chunks int, PRIMARY KEY ((module_hash, fingerprint)))",
    ),
    # 2: the managed backend service catalogue.
    (
        "CREATE TABLE IF NOT EXISTS {ks}.services (name text PRIMARY KEY, spec text,"
        " updated_at text)",
    ),
    # 3: change control: traffic policies and canaries, labels, build records.
    (
        "CREATE TABLE IF NOT EXISTS {ks}.traffic (namespace text, path text, policy text,"
        " canary_id text, canary_started_at text, verdict text, updated_at text,"
        " PRIMARY KEY ((namespace, path)))",
        # Measurements, rewritten every few seconds while a canary runs; a run
        # that never ended (its endpoint deleted) expires.
        "CREATE TABLE IF NOT EXISTS {ks}.canary_reports (namespace text, path text,"
        " canary_id text, reporter text, report text, at text,"
        " PRIMARY KEY ((namespace, path, canary_id), reporter))"
        " WITH default_time_to_live = 2592000",
        "CREATE TABLE IF NOT EXISTS {ks}.version_labels (namespace text, path text, label text,"
        " number int, PRIMARY KEY ((namespace, path), label))",
        # Files can be large; kept out of the logged batch, like sources.
        "CREATE TABLE IF NOT EXISTS {ks}.version_builds (namespace text, path text, number int,"
        " info text, files text, PRIMARY KEY ((namespace, path), number))",
    ),
    # 4: a bundle's version names the runtime that runs it. (IF NOT EXISTS,
    # Cassandra 4.1 and later: hosts that start together may both add it.)
    ("ALTER TABLE {ks}.versions ADD IF NOT EXISTS runtime text",),
)


def replication_clause(replication: dict[str, Any]) -> str:
    items = ", ".join(
        f"'{key}': '{value}'" if key == "class" else f"'{key}': {int(value)}"
        for key, value in replication.items()
    )
    return "{" + items + "}"


async def migrate(session: Session, keyspace: str, replication: dict[str, Any]) -> None:
    """Create the keyspace and bring its tables up to the newest migration.

    A keyspace already at the newest migration is left alone: hosts that
    start together change no schema. Otherwise every change goes to one node
    (see change_schema), the same one from every host of a data centre.
    """
    done = await _migrations_done(session, keyspace)
    if done == len(MIGRATIONS):
        return
    coordinator = schema_coordinator(session.get_pool_state())
    await change_schema(
        session,
        f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = "
        f"{replication_clause(replication)}",
        coordinator,
    )
    await change_schema(session, MIGRATIONS[0][0].format(ks=keyspace), coordinator)
    done = await _migrations_done(session, keyspace)
    for number, statements in enumerate(MIGRATIONS[done:], start=done + 1):
        for statement in statements:
            await change_schema(session, statement.format(ks=keyspace), coordinator)
        await run(
            session,
            f"UPDATE {keyspace}.meta SET schema_version = {number} WHERE id = 'registry'",
        )


async def _migrations_done(session: Session, keyspace: str) -> int:
    """How many migrations the keyspace has had; 0 before its `meta` table exists."""
    tables = getattr(session.cluster.metadata.keyspaces.get(keyspace), "tables", {})
    if "meta" not in tables:
        return 0
    rows = await run(session, f"SELECT schema_version FROM {keyspace}.meta WHERE id = 'registry'")
    return int(rows[0].schema_version or 0) if rows else 0


def schema_coordinator(hosts: Iterable[Host]) -> Host:
    """The node that takes a migration's schema changes: of those the session
    keeps connections to (its data centre's), the first up in address order.

    Hosts of one data centre pick the same node while they see the same
    nodes up, so hosts migrating a new keyspace at once send their
    `IF NOT EXISTS` to the one node that decides it.
    """
    up = [host for host in hosts if host.is_up]
    if not up:
        raise RegistryUnavailable("Cassandra: no node is up to take the registry's schema")
    return min(up, key=lambda host: str(host.address))
