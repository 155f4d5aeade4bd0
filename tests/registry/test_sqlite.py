"""What only the SQLite registry promises: files, URLs, locking, sharing between processes."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import pytest

from registry import (
    Action,
    Conflict,
    CorruptBlob,
    InvalidRegistryURL,
    NotFound,
    Registry,
    RegistryUnavailable,
    SQLiteRegistry,
    TrafficPolicy,
    open_registry,
)
from registry._blobs import BlobStore
from registry._sqlite_db import _MIGRATIONS, SCHEMA_VERSION
from tests.registry.sqlite_worker import SHARED

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
async def registry(data_dir: Path) -> AsyncIterator[Registry]:
    registry = await open_registry(None, data_dir)
    yield registry
    await registry.close()


@contextmanager
def raw(database: Path) -> Iterator[sqlite3.Connection]:
    """A connection of our own, as another process would have."""
    with closing(sqlite3.connect(database, isolation_level=None)) as connection:
        yield connection


async def test_one_database_file_in_wal_mode_and_blobs_beside_it(
    registry: Registry, data_dir: Path
) -> None:
    module_hash = await registry.put_module(b"module")
    await registry.put_artifact(module_hash, "engine", b"artifact")

    with raw(data_dir / "registry.sqlite3") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    blobs = BlobStore(data_dir / "registry-blobs")
    assert blobs.module_path(module_hash).read_bytes() == b"module"
    assert blobs.artifact_path(module_hash, "engine").is_file()
    assert not list((data_dir / "registry-blobs").rglob("*.partial"))


async def test_a_sqlite_url_names_the_database_file(tmp_path: Path, data_dir: Path) -> None:
    database = tmp_path / "elsewhere" / "my registry.db"

    url = "sqlite://" + database.as_posix().replace(" ", "%20")

    registry = await open_registry(url, data_dir)
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    module_hash = await registry.put_module(b"module")
    await registry.close()

    assert database.is_file()
    assert BlobStore(database.parent / "registry-blobs").module_path(module_hash).is_file()
    assert not (data_dir / "registry.sqlite3").is_file()


async def test_a_relative_sqlite_url_is_relative_to_the_working_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    registry = await open_registry("sqlite:relative/registry.db", tmp_path / "unused")
    await registry.close()

    assert (tmp_path / "relative" / "registry.db").is_file()


@pytest.mark.parametrize("url", [None, "", "sqlite:", "sqlite://"])
async def test_no_url_means_sqlite_in_the_data_dir(data_dir: Path, url: str | None) -> None:
    registry = await open_registry(url, data_dir)
    await registry.close()

    assert (data_dir / "registry.sqlite3").is_file()


@pytest.mark.parametrize(
    "url", ["redis://localhost/0", "sqlite://somehost/registry.db", "sqlite:///x.db?mode=ro"]
)
async def test_urls_naming_nothing_known_are_refused(data_dir: Path, url: str) -> None:
    with pytest.raises(InvalidRegistryURL):
        await open_registry(url, data_dir)


async def test_a_mutation_and_its_change_commit_together(
    registry: Registry, data_dir: Path
) -> None:
    with raw(data_dir / "registry.sqlite3") as connection:
        connection.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON events"
            " BEGIN SELECT RAISE(ABORT, 'no more events'); END"
        )

    with pytest.raises(Conflict, match="no more events"):
        await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")

    with pytest.raises(NotFound):
        await registry.get_endpoint("team", "/feed")


async def test_the_audit_log_cannot_be_rewritten(registry: Registry, data_dir: Path) -> None:
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")

    with raw(data_dir / "registry.sqlite3") as connection:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            connection.execute("UPDATE events SET actor = 'mallory'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            connection.execute("DELETE FROM events")

    assert [e.actor for e in await registry.audit_log()] == ["ana"]


async def test_a_writer_waits_for_the_lock_then_gives_up(data_dir: Path) -> None:
    registry = await SQLiteRegistry.open(data_dir / "registry.sqlite3", busy_timeout_s=0.2)
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    try:
        with raw(data_dir / "registry.sqlite3") as other_process:
            other_process.execute("BEGIN IMMEDIATE")

            with pytest.raises(RegistryUnavailable, match="locked"):
                await registry.put_endpoint("team", "/other", methods=["GET"], actor="ana")
            # WAL: readers are not blocked by a writer.
            assert (await registry.get_endpoint("team", "/feed")).path == "/feed"

            other_process.execute("ROLLBACK")
        await registry.put_endpoint("team", "/other", methods=["GET"], actor="ana")
    finally:
        await registry.close()


async def test_a_new_registry_opened_by_several_at_once_opens_for_each(tmp_path: Path) -> None:
    """As the processes of a host opening a new data dir: one would find the file locked
    while another switched it to WAL mode (one round in four failed, two at a time)."""
    for round_ in range(30):
        data_dir = tmp_path / f"round-{round_}"
        opening = (SQLiteRegistry.in_data_dir(data_dir) for _ in range(2))
        opened = await asyncio.gather(*opening, return_exceptions=True)
        registries = [r for r in opened if isinstance(r, SQLiteRegistry)]
        try:
            assert registries == opened, f"round {round_}: {opened}"
            assert [await r.list_endpoints() for r in registries] == [[], []]
        finally:
            for registry in registries:
                await registry.close()


async def test_a_database_from_a_newer_host_is_not_touched(data_dir: Path) -> None:
    await (await open_registry(None, data_dir)).close()
    with raw(data_dir / "registry.sqlite3") as connection:
        connection.execute("PRAGMA user_version = 99")

    with pytest.raises(RegistryUnavailable, match="schema 99"):
        await open_registry(None, data_dir)


async def test_a_database_of_the_first_schema_is_migrated_in_place_keeping_its_data(
    data_dir: Path,
) -> None:
    """A schema-1 database gains the service catalogue and versions' runtimes; keeps its rows."""
    registry = await open_registry(None, data_dir)
    module_hash = await registry.put_module(b"module")
    await registry.close()
    data_dir.joinpath("registry.sqlite3").unlink()
    with raw(data_dir / "registry.sqlite3") as connection:
        connection.executescript(_MIGRATIONS[1])
        connection.execute(
            "INSERT INTO endpoints VALUES ('team', '/feed', '[\"GET\"]', '{}', '{}', 1, NULL,"
            " '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')"
        )
        connection.execute(
            "INSERT INTO versions VALUES ('team', '/feed', 1, 'js', ?, 'ana', '', NULL, ?)",
            (module_hash, "2026-01-01T00:00:00+00:00"),
        )
        connection.execute("PRAGMA user_version = 1")

    registry = await open_registry(None, data_dir)
    try:
        assert [e.path for e in await registry.list_endpoints()] == ["/feed"]
        [old] = await registry.list_versions("team", "/feed")
        assert (old.module_hash, old.runtime) == (module_hash, None)
        bundle = await registry.put_module(b"bundle")
        new = await registry.add_version(
            "team", "/feed", language="js", module_hash=bundle, author="a", runtime=module_hash
        )
        assert (new.id, new.runtime) == ("v2", module_hash)
        await registry.put_service("titles", {"url": "http://t"}, actor="root")
        assert [s.name for s in await registry.list_services()] == ["titles"]
    finally:
        await registry.close()
    with raw(data_dir / "registry.sqlite3") as connection:
        assert connection.execute("PRAGMA user_version").fetchone()[0] == max(_MIGRATIONS)


# How to take a database back to before each migration after the first.
_UNDO = {
    2: ("DROP TABLE services",),
    3: (
        "DROP TABLE traffic",
        "DROP TABLE canary_reports",
        "DROP TABLE version_labels",
        "DROP TABLE version_builds",
        "DROP INDEX events_by_endpoint",
    ),
    4: ("ALTER TABLE versions DROP COLUMN runtime",),
}


def downgrade(connection: sqlite3.Connection, to: int) -> None:
    for number in range(SCHEMA_VERSION, to, -1):
        for statement in _UNDO[number]:
            connection.execute(statement)
    connection.execute(f"PRAGMA user_version = {to}")


async def test_a_database_before_change_control_gains_it_and_keeps_its_versions(
    data_dir: Path,
) -> None:
    registry = await open_registry(None, data_dir)
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    module_hash = await registry.put_module(b"\0asm\x01\0\0\0")
    for _ in range(2):
        await registry.add_version(
            "team", "/feed", language="js", module_hash=module_hash, author="ana"
        )
    await registry.activate("team", "/feed", "v1", actor="ana")
    await registry.close()
    with raw(data_dir / "registry.sqlite3") as connection:
        downgrade(connection, 2)

    registry = await open_registry(None, data_dir)
    try:
        assert [v.id for v in await registry.list_versions("team", "/feed")] == ["v2", "v1"]
        traffic = await registry.set_traffic("team", "/feed", TrafficPolicy("v2", 10), actor="ana")
        assert traffic.canary_id is not None
        assert await registry.set_label("team", "/feed", "first", "v1", actor="ana") == {
            "first": "v1"
        }
    finally:
        await registry.close()


async def test_a_truncated_artifact_is_corrupt(registry: Registry, data_dir: Path) -> None:
    module_hash = await registry.put_module(b"module")
    await registry.put_artifact(module_hash, "engine", b"x" * 1000)
    path = BlobStore(data_dir / "registry-blobs").artifact_path(module_hash, "engine")
    path.write_bytes(path.read_bytes()[:500])

    with pytest.raises(CorruptBlob):
        await registry.get_artifact(module_hash, "engine")
    assert not path.exists()


async def test_two_processes_share_one_data_dir(data_dir: Path) -> None:
    """Two writer processes start at once on a fresh data dir while this one polls the feed."""
    count = 60
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.registry.sqlite_worker",
            str(data_dir),
            name,
            str(count),
            cwd=REPO_ROOT,
        )
        for name in ("alpha", "beta")
    ]
    registry = await open_registry(None, data_dir)
    try:
        seen = await poll_until_exit(registry, workers)
        changes = await registry.changes_since(0, limit=10_000)
        versions = await registry.list_versions(*SHARED)
        shared = await registry.get_endpoint(*SHARED)
    finally:
        await registry.close()

    assert [worker.returncode for worker in workers] == [0, 0]
    assert seen == [change.seq for change in changes]
    assert len(changes) == 1 + 2 * count * 3
    assert sum(c.action is Action.ENDPOINT_CREATED for c in changes) == 1 + 2 * count
    assert [v.id for v in versions] == [f"v{n}" for n in range(2 * count, 0, -1)]
    assert sorted(v.author for v in versions) == ["alpha"] * count + ["beta"] * count
    assert shared.active_version == f"v{2 * count}"


async def poll_until_exit(
    registry: Registry, workers: list[asyncio.subprocess.Process]
) -> list[int]:
    """Poll the change feed like a host does; check each batch only moves forward."""
    seen: list[int] = []
    while True:
        done = all(worker.returncode is not None for worker in workers)
        batch = [change.seq for change in await registry.changes_since(seen[-1] if seen else 0)]
        assert batch == sorted(set(batch))
        assert not seen or not batch or batch[0] > seen[-1]
        seen.extend(batch)
        if done:
            return seen
        await asyncio.sleep(0.005)
