"""The registry implementations the contract tests run against, as tests reach them.

Each Backend gives a test an empty store of its own, opens as many
registries on that store as a test asks for (they share state, like two
hosts sharing a registry), and can damage a stored blob the way a disk or a
bad replica would.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

from cassandra.cluster import Session

from registry import Registry, open_registry
from registry._blobs import BlobStore
from registry.sqlite import BLOB_DIR_NAME
from tests.support import cassandra as local_cassandra


class Backend(Protocol):
    async def open(self) -> Registry:
        """Another registry on this test's store; the fixture closes it at the end."""
        ...

    async def corrupt_module(self, module_hash: str) -> None: ...

    async def corrupt_artifact(self, module_hash: str, fingerprint: str) -> None: ...

    async def close_all(self) -> None: ...


class SQLiteBackend:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.blobs = BlobStore(data_dir / BLOB_DIR_NAME)
        self._opened: list[Registry] = []

    async def open(self) -> Registry:
        registry = await open_registry(None, self.data_dir)
        self._opened.append(registry)
        return registry

    async def corrupt_module(self, module_hash: str) -> None:
        _flip_last_byte(self.blobs.module_path(module_hash))

    async def corrupt_artifact(self, module_hash: str, fingerprint: str) -> None:
        _flip_last_byte(self.blobs.artifact_path(module_hash, fingerprint))

    async def close_all(self) -> None:
        for registry in self._opened:
            await registry.close()


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


CASSANDRA_KEYSPACE = "registry_contract"
CASSANDRA_URL = local_cassandra.url(CASSANDRA_KEYSPACE)


def cassandra_up() -> None:
    """The project's own local node (scripts/cassandra.sh), started if it is not running."""
    local_cassandra.cassandra_sh("up")


async def create_keyspace() -> None:
    registry = await open_registry(CASSANDRA_URL, Path("."))
    await registry.close()


class CassandraBackend:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._opened: list[Registry] = []
        tables = session.execute(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = %s",
            (CASSANDRA_KEYSPACE,),
        )
        for table in tables:
            if table.table_name != "meta":
                session.execute(f"TRUNCATE {table.table_name}")
        session.execute("UPDATE meta SET seq = 0, default_quotas = null WHERE id = 'registry'")

    async def open(self) -> Registry:
        registry = await open_registry(CASSANDRA_URL, Path("."))
        self._opened.append(registry)
        return registry

    async def corrupt_module(self, module_hash: str) -> None:
        await asyncio.to_thread(self._flip, "module_chunks", "hash = %s", (module_hash,))

    async def corrupt_artifact(self, module_hash: str, fingerprint: str) -> None:
        where = "module_hash = %s AND fingerprint = %s"
        await asyncio.to_thread(self._flip, "artifact_chunks", where, (module_hash, fingerprint))

    def _flip(self, table: str, where: str, key: tuple[str, ...]) -> None:
        """Damage the last byte of a blob's first chunk, as a bad disk or replica would."""
        row = self.session.execute(
            f"SELECT data FROM {table} WHERE {where} AND chunk = 0", key
        ).one()
        data = bytearray(row.data)
        data[-1] ^= 0xFF
        self.session.execute(
            f"UPDATE {table} SET data = %s WHERE {where} AND chunk = 0", (bytes(data), *key)
        )

    async def close_all(self) -> None:
        for registry in self._opened:
            await registry.close()
