"""The contract suite runs once per registry implementation listed in BACKENDS.

To add an implementation, add a Backend for it (tests/support/registries.py)
and list it in BACKENDS; the contract tests themselves must not change.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from registry import Registry
from tests.support.registries import Backend, CassandraBackend, SQLiteBackend

BackendFactory = Callable[[pytest.FixtureRequest, Path], Backend]

BACKENDS: dict[str, BackendFactory] = {
    "sqlite": lambda request, tmp_path: SQLiteBackend(tmp_path / "data"),
    "cassandra": lambda request, tmp_path: CassandraBackend(
        request.getfixturevalue("cassandra_session")
    ),
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
