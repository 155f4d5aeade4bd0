"""The registry's keyspace and tables, created and migrated by the host itself."""

from __future__ import annotations

from typing import Any

from cassandra import ConsistencyLevel
from cassandra.cluster import Session

from registry._cassandra_session import run

# Events live in partitions of this many consecutive seqs, so the change feed
# reads a few rows from one or two partitions and no partition grows forever.
EVENTS_PER_BUCKET = 10_000
# Blobs are written in chunks far below the mutation size limit (half a
# commit log segment, 16 MiB by default).
CHUNK_BYTES = 1 << 20

# Each migration runs once, in order; `meta.schema_version` says how far a
# keyspace has come. Append, never edit. `{ks}` is the keyspace.
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
    # 4: a bundle's version names the runtime that runs it.
    ("ALTER TABLE {ks}.versions ADD runtime text",),
)


def replication_clause(replication: dict[str, Any]) -> str:
    items = ", ".join(
        f"'{key}': '{value}'" if key == "class" else f"'{key}': {int(value)}"
        for key, value in replication.items()
    )
    return "{" + items + "}"


async def migrate(session: Session, keyspace: str, replication: dict[str, Any]) -> None:
    """Create the keyspace and bring its tables up to the newest migration."""
    await run(
        session,
        f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = "
        f"{replication_clause(replication)}",
        consistency=ConsistencyLevel.ONE,
        driver_timeout_s=60,
    )
    await run(
        session,
        MIGRATIONS[0][0].format(ks=keyspace),
        consistency=ConsistencyLevel.ONE,
        driver_timeout_s=60,
    )
    rows = await run(session, f"SELECT schema_version FROM {keyspace}.meta WHERE id = 'registry'")
    done = rows[0].schema_version if rows and rows[0].schema_version is not None else 0
    for number, statements in enumerate(MIGRATIONS[done:], start=done + 1):
        for statement in statements:
            await run(
                session,
                statement.format(ks=keyspace),
                consistency=ConsistencyLevel.ONE,
                driver_timeout_s=60,
            )
        await run(
            session,
            f"UPDATE {keyspace}.meta SET schema_version = {number} WHERE id = 'registry'",
        )
