"""The contract suite runs once per registry implementation listed in BACKENDS.

To add an implementation, add a Backend for it to BACKENDS; the contract
tests themselves must not change. A Backend gives each test an empty store of
its own, opens as many registries on that store as a test asks for (they must
share state, like two hosts sharing a registry), and can damage a stored blob
the way a disk or a bad replica would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Protocol

import pytest

from registry import Registry, open_registry
from registry._blobs import BlobStore
from registry.sqlite import BLOB_DIR_NAME


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


BackendFactory = Callable[[pytest.FixtureRequest, Path], Backend]

BACKENDS: dict[str, BackendFactory] = {
    "sqlite": lambda request, tmp_path: SQLiteBackend(tmp_path / "data"),
}


@pytest.fixture(params=sorted(BACKENDS))
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    made = BACKENDS[request.param](request, tmp_path)
    yield made
    await made.close_all()


@pytest.fixture
async def registry(backend: Backend) -> Registry:
    return await backend.open()


@pytest.fixture
async def module_hash(registry: Registry) -> str:
    """A stored module, for tests about versions."""
    return await registry.put_module(b"\0asm\x01\0\0\0 a module")
