"""What only the Cassandra registry has: URLs, chunked blobs, and an unreachable cluster."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from cassandra import InvalidRequest
from cassandra.cluster import Session
from cassandra.connection import DefaultEndPoint
from cassandra.policies import SimpleConvictionPolicy
from cassandra.pool import Host

from registry import CorruptBlob, InvalidRegistryURL, RegistryUnavailable, open_registry
from registry._cassandra_schema import schema_coordinator
from registry._cassandra_session import parse_url, prepare_once_known, run
from tests.support import cassandra as local_cassandra
from tests.support.registries import CASSANDRA_KEYSPACE, CassandraBackend
from tests.support.servers import free_port

# Larger than one mutation may be (half of the node's 32 MiB commit log segment).
BIG = 20 << 20
# The README's "stored in 1 MiB chunks".
CHUNK_BYTES = 1 << 20


def test_a_url_names_hosts_port_keyspace_and_replication() -> None:
    target = parse_url(
        "cassandra://a.internal:9142,b.internal:9142/scripts?replication=dc1:3,dc2:2&local_dc=dc1"
    )
    assert target.hosts == ("a.internal", "b.internal")
    assert target.port == 9142
    assert target.keyspace == "scripts"
    assert target.replication == {"class": "NetworkTopologyStrategy", "dc1": 3, "dc2": 2}
    assert target.local_dc == "dc1"


def test_credentials_come_from_the_url_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert parse_url("cassandra://ana:s%40cret@h/ks").password == "s@cret"
    monkeypatch.setenv("SCRIPTHOST_CASSANDRA_USERNAME", "svc")
    assert parse_url("cassandra://h/ks").username == "svc"


def test_hosts_must_share_a_port() -> None:
    with pytest.raises(InvalidRegistryURL):
        parse_url("cassandra://a:9042,b:9142/ks")


@pytest.mark.parametrize(
    "url",
    [
        "cassandra:///ks",
        "cassandra://h/",
        "cassandra://h/bad-keyspace",
        "cassandra://h/ks?replication=x",
    ],
)
def test_a_bad_url_is_refused(url: str) -> None:
    with pytest.raises(InvalidRegistryURL):
        parse_url(url)


async def test_a_module_larger_than_a_mutation_round_trips(cassandra_session: Session) -> None:
    backend = CassandraBackend(cassandra_session)
    try:
        registry = await backend.open()
        module = os.urandom(BIG)
        module_hash = await registry.put_module(module)
        assert await registry.get_module(module_hash) == module
        chunks = cassandra_session.execute(
            "SELECT COUNT(*) FROM module_chunks WHERE hash = %s", (module_hash,)
        ).one()
        assert chunks[0] == BIG // CHUNK_BYTES
        artifact = os.urandom(BIG)
        await registry.put_artifact(module_hash, "engine-1", artifact)
        assert await registry.get_artifact(module_hash, "engine-1") == artifact
    finally:
        await backend.close_all()


async def test_a_damaged_chunk_in_the_middle_is_refused(cassandra_session: Session) -> None:
    backend = CassandraBackend(cassandra_session)
    try:
        registry = await backend.open()
        module_hash = await registry.put_module(os.urandom(3 * CHUNK_BYTES))
        row = cassandra_session.execute(
            "SELECT data FROM module_chunks WHERE hash = %s AND chunk = 1", (module_hash,)
        ).one()
        damaged = bytearray(row.data)
        damaged[CHUNK_BYTES // 2] ^= 0x01
        cassandra_session.execute(
            "UPDATE module_chunks SET data = %s WHERE hash = %s AND chunk = 1",
            (bytes(damaged), module_hash),
        )
        with pytest.raises(CorruptBlob):
            await registry.get_module(module_hash)
    finally:
        await backend.close_all()


async def test_a_keyspace_of_the_first_schema_is_migrated_keeping_its_versions(
    cassandra_session: Session,
) -> None:
    url = local_cassandra.url("registry_migration")
    registry = await open_registry(url, Path("."))
    module_hash = await registry.put_module(b"module")
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    await registry.add_version("team", "/feed", language="js", module_hash=module_hash, author="a")
    await registry.close()
    # What a keyspace of the first schema looks like: no service catalogue,
    # versions that name no runtime.
    cassandra_session.execute("ALTER TABLE registry_migration.versions DROP runtime")
    cassandra_session.execute("DROP TABLE registry_migration.services")
    cassandra_session.execute(
        "UPDATE registry_migration.meta SET schema_version = 1 WHERE id = 'registry'"
    )

    registry = await open_registry(url, Path("."))
    try:
        [old] = await registry.list_versions("team", "/feed")
        assert (old.module_hash, old.runtime) == (module_hash, None)
        bundle = await registry.put_module(b"bundle")
        new = await registry.add_version(
            "team", "/feed", language="js", module_hash=bundle, author="a", runtime=module_hash
        )
        assert await registry.get_version("team", "/feed", new.id) == new
        assert new.runtime == module_hash
        await registry.put_service("titles", {"url": "http://t"}, actor="root")
        assert [s.name for s in await registry.list_services()] == ["titles"]
    finally:
        await registry.close()
        cassandra_session.execute("DROP KEYSPACE registry_migration")


async def test_hosts_opening_a_new_keyspace_at_once_all_open_it(
    cassandra_session: Session,
) -> None:
    url = local_cassandra.url("registry_together")
    try:
        registries = await asyncio.gather(*(open_registry(url, Path(".")) for _ in range(4)))
        await registries[0].put_endpoint("team", "/feed", methods=["GET"], actor="ana")
        for registry in registries:
            assert [e.path for e in await registry.list_endpoints("team")] == ["/feed"]
            await registry.close()
    finally:
        cassandra_session.execute("DROP KEYSPACE IF EXISTS registry_together")


async def test_the_registry_gives_cassandra_nothing_to_warn_about(
    cassandra_session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    """The driver logs each warning a node sends back; a host would log it on every start."""
    url = local_cassandra.url("registry_warnings")
    try:
        with caplog.at_level(logging.WARNING, logger="cassandra.protocol"):
            registry = await open_registry(url, Path("."))
            module_hash = await registry.put_module(b"module")
            await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
            await registry.add_version(
                "team", "/feed", language="js", module_hash=module_hash, author="a"
            )
            assert [v.module_hash for v in await registry.list_versions("team", "/feed")] == [
                module_hash
            ]
            await registry.close()
        assert [r.getMessage() for r in caplog.records if r.name == "cassandra.protocol"] == []
    finally:
        cassandra_session.execute("DROP KEYSPACE IF EXISTS registry_warnings")


def test_a_migration_sends_its_schema_changes_to_the_first_node_up() -> None:
    def host(address: str, *, up: bool) -> Host:
        node = Host(DefaultEndPoint(address), SimpleConvictionPolicy)
        if up:
            node.set_up()
        else:
            node.set_down()
        return node

    nodes = [host("10.0.0.3", up=True), host("10.0.0.1", up=False), host("10.0.0.2", up=True)]
    assert schema_coordinator(nodes).address == "10.0.0.2"
    assert schema_coordinator(reversed(nodes)).address == "10.0.0.2"
    with pytest.raises(RegistryUnavailable, match="no node is up"):
        schema_coordinator([host("10.0.0.1", up=False)])


async def test_an_unreachable_cluster_is_registry_unavailable(tmp_path: Path) -> None:
    with pytest.raises(RegistryUnavailable):
        await open_registry(f"cassandra://127.0.0.1:{free_port()}/nowhere", tmp_path)


async def test_the_feed_stops_at_a_change_that_has_not_arrived(cassandra_session: Session) -> None:
    """In another data centre a change can arrive before the one ahead of it."""
    backend = CassandraBackend(cassandra_session)
    try:
        registry = await backend.open()
        for name in ("a", "b", "c"):
            await registry.put_endpoint("tv", f"/{name}", methods=["GET"], actor="ana")
        columns = "bucket, seq, at, actor, action, namespace, path, details"
        missing = cassandra_session.execute(
            f"SELECT {columns} FROM events WHERE bucket = 0 AND seq = 2"
        ).one()
        cassandra_session.execute("DELETE FROM events WHERE bucket = 0 AND seq = 2")
        assert [change.seq for change in await registry.changes_since(0)] == [1]
        assert await registry.changes_since(1) == []

        cassandra_session.execute(
            f"INSERT INTO events ({columns}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            tuple(missing),
        )
        assert [change.seq for change in await registry.changes_since(1)] == [2, 3]
    finally:
        await backend.close_all()


@pytest.fixture
def table(cassandra_session: Session) -> Iterator[str]:
    """A table of its own, dropped afterwards: these tests change its schema."""
    name = f"{CASSANDRA_KEYSPACE}.late_{uuid.uuid4().hex[:12]}"
    cassandra_session.execute(f"CREATE TABLE {name} (id int PRIMARY KEY)")
    yield name
    cassandra_session.execute(f"DROP TABLE IF EXISTS {name}")


def test_a_statement_naming_a_column_not_yet_added_is_prepared_once_it_is(
    cassandra_session: Session, table: str, caplog: pytest.LogCaptureFixture
) -> None:
    """As on a node another host's migration has not reached yet."""
    caplog.set_level(logging.ERROR, logger="cassandra.cluster")

    def refused_once() -> bool:
        return any(
            record.exc_info is not None and "Undefined column name late" in str(record.exc_info[1])
            for record in caplog.records
        )

    with ThreadPoolExecutor(1) as thread:
        preparing = thread.submit(
            prepare_once_known, cassandra_session, f"SELECT late FROM {table} WHERE id = 1"
        )
        for _ in range(600):  # a bound against a hang, not a speed expectation
            if refused_once() or preparing.done():
                break
            time.sleep(0.05)
        assert refused_once(), "the node never refused the statement"
        assert not preparing.done(), "it gave up instead of waiting"
        cassandra_session.execute(f"ALTER TABLE {table} ADD late text")
        prepared = preparing.result(timeout=60)
    assert [column[2] for column in prepared.result_metadata] == ["late"]


def test_a_column_that_never_arrives_is_the_registry_unavailable(
    cassandra_session: Session, table: str
) -> None:
    with pytest.raises(RegistryUnavailable, match="Undefined column name never"):
        prepare_once_known(cassandra_session, f"SELECT never FROM {table}", within_s=1.0)


def test_any_other_refusal_is_raised_at_once(cassandra_session: Session, table: str) -> None:
    # Within a minute it would have been retried into RegistryUnavailable instead.
    with pytest.raises(InvalidRequest, match="does not exist"):
        prepare_once_known(cassandra_session, "SELECT id FROM no_such_keyspace.t")


def connections_of(session: Session) -> list[Any]:
    return [connection for pool in session.get_pools() for connection in pool.get_connections()]


@contextlib.contextmanager
def busy(session: Session) -> Iterator[Callable[[], None]]:
    """Every connection's socket buffer marked full, as when the node reads slower than a
    large blob's chunks are written, until the function yielded drains them (or the
    block ends)."""

    def mark(writable: bool) -> None:
        for connection in connections_of(session):
            connection._socket_writable = writable

    mark(False)
    try:
        yield lambda: mark(True)
    finally:
        mark(True)


async def test_a_statement_no_connection_could_take_yet_is_sent_once_one_drains(
    cassandra_session: Session, table: str
) -> None:
    with busy(cassandra_session) as drain:
        writing = asyncio.ensure_future(
            run(cassandra_session, f"INSERT INTO {table} (id) VALUES (7)")
        )
        await asyncio.sleep(0.2)  # refused at least once meanwhile (the backoff starts at 20 ms)
        assert not writing.done()
        drain()
        await writing
    assert cassandra_session.execute(f"SELECT id FROM {table}").one().id == 7


async def test_connections_that_stay_busy_leave_the_registry_unavailable(
    cassandra_session: Session, table: str
) -> None:
    with busy(cassandra_session), pytest.raises(RegistryUnavailable, match="overloaded"):
        await run(cassandra_session, f"SELECT id FROM {table}", driver_timeout_s=0.5)
