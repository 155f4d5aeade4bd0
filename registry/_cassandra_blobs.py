"""Modules and artifacts in Cassandra: chunked, hash-checked, artifacts compressed.

A blob's chunks are written first and its metadata row last, so a reader
never sees a blob that is only partly written. Every read is checked against
the content hash before it is returned: a damaged chunk is refused, never
executed.
"""

from __future__ import annotations

import asyncio
import hashlib
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from cassandra.cluster import Session
from cassandra.query import PreparedStatement

from registry._cassandra_schema import CHUNK_BYTES
from registry._cassandra_session import run
from registry.errors import CorruptBlob, NotFound

# Chunks in flight at once per blob: enough to keep a node busy, few enough
# not to hold a 40 MB artifact in the driver's queues at once.
_PARALLEL_CHUNKS = 4


def chunks_of(data: bytes) -> list[bytes]:
    return [data[at : at + CHUNK_BYTES] for at in range(0, len(data), CHUNK_BYTES)] or [b""]


async def bounded(calls: Sequence[Callable[[], Awaitable[Any]]]) -> list[Any]:
    gate = asyncio.Semaphore(_PARALLEL_CHUNKS)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with gate:
            return await call()

    return list(await asyncio.gather(*(one(call) for call in calls)))


class BlobTables:
    def __init__(self, session: Session, prepare: Callable[[str], PreparedStatement]) -> None:
        """`prepare` takes CQL that names each table `{ks}.table`."""
        self._session = session
        self._put_module_chunk = prepare(
            "INSERT INTO {ks}.module_chunks (hash, chunk, data) VALUES (?, ?, ?)"
        )
        self._get_module_chunk = prepare(
            "SELECT data FROM {ks}.module_chunks WHERE hash = ? AND chunk = ?"
        )
        self._put_module = prepare("INSERT INTO {ks}.modules (hash, size, chunks) VALUES (?, ?, ?)")
        self._get_module = prepare("SELECT size, chunks FROM {ks}.modules WHERE hash = ?")
        self._put_artifact_chunk = prepare(
            "INSERT INTO {ks}.artifact_chunks (module_hash, fingerprint, chunk, data)"
            " VALUES (?, ?, ?, ?)"
        )
        self._get_artifact_chunk = prepare(
            "SELECT data FROM {ks}.artifact_chunks WHERE module_hash = ? AND fingerprint = ?"
            " AND chunk = ?"
        )
        self._put_artifact = prepare(
            "INSERT INTO {ks}.artifacts (module_hash, fingerprint, sha256, size, chunks)"
            " VALUES (?, ?, ?, ?, ?)"
        )
        self._get_artifact = prepare(
            "SELECT sha256, size, chunks FROM {ks}.artifacts WHERE module_hash = ?"
            " AND fingerprint = ?"
        )
        self._drop_artifact = prepare(
            "DELETE FROM {ks}.artifacts WHERE module_hash = ? AND fingerprint = ?"
        )

    async def put_module(self, data: bytes) -> str:
        module_hash = hashlib.sha256(data).hexdigest()
        parts = chunks_of(data)
        await bounded(
            [
                _call(self._session, self._put_module_chunk, (module_hash, n, part))
                for n, part in enumerate(parts)
            ]
        )
        await run(self._session, self._put_module, (module_hash, len(data), len(parts)))
        return module_hash

    async def has_module(self, module_hash: str) -> bool:
        return bool(await run(self._session, self._get_module, (module_hash,)))

    async def get_module(self, module_hash: str) -> bytes:
        rows = await run(self._session, self._get_module, (module_hash,))
        if not rows:
            raise NotFound(f"no module {module_hash}")
        data = await self._read_chunks(self._get_module_chunk, (module_hash,), rows[0].chunks)
        if data is None or hashlib.sha256(data).hexdigest() != module_hash:
            raise CorruptBlob(f"module {module_hash} does not match its hash; upload it again")
        return data

    async def put_artifact(self, module_hash: str, fingerprint: str, data: bytes) -> None:
        packed = zlib.compress(data, 1)
        parts = chunks_of(packed)
        await bounded(
            [
                _call(self._session, self._put_artifact_chunk, (module_hash, fingerprint, n, part))
                for n, part in enumerate(parts)
            ]
        )
        digest = hashlib.sha256(data).hexdigest()
        await run(
            self._session,
            self._put_artifact,
            (module_hash, fingerprint, digest, len(data), len(parts)),
        )

    async def has_artifact(self, module_hash: str, fingerprint: str) -> bool:
        return bool(await run(self._session, self._get_artifact, (module_hash, fingerprint)))

    async def get_artifact(self, module_hash: str, fingerprint: str) -> bytes | None:
        rows = await run(self._session, self._get_artifact, (module_hash, fingerprint))
        if not rows:
            return None
        meta = rows[0]
        packed = await self._read_chunks(
            self._get_artifact_chunk, (module_hash, fingerprint), meta.chunks
        )
        data = _unpacked(packed)
        if data is None or hashlib.sha256(data).hexdigest() != meta.sha256:
            # An artifact is a cache: drop it, so the next reader recompiles.
            await run(self._session, self._drop_artifact, (module_hash, fingerprint))
            raise CorruptBlob(f"artifact of {module_hash} for {fingerprint} is damaged")
        return data

    async def _read_chunks(
        self, statement: PreparedStatement, key: tuple[str, ...], count: int
    ) -> bytes | None:
        answers = await bounded([_call(self._session, statement, (*key, n)) for n in range(count)])
        if any(not rows for rows in answers):
            return None
        return b"".join(bytes(rows[0].data or b"") for rows in answers)


def _call(
    session: Session, statement: PreparedStatement, parameters: tuple[Any, ...]
) -> Callable[[], Awaitable[list[Any]]]:
    return lambda: run(session, statement, parameters)


def _unpacked(packed: bytes | None) -> bytes | None:
    if packed is None:
        return None
    try:
        return zlib.decompress(packed)
    except zlib.error:
        return None
