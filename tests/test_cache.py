"""The module cache over a real registry: hits, local and registry artifacts, compile once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import wasmtime

from host.cache import ModuleCache
from host.sandbox import ModuleKind, SandboxEngine
from registry import CorruptBlob, Registry, open_registry
from registry._blobs import BlobStore
from registry.sqlite import BLOB_DIR_NAME
from tests.support.registries import Backend, CassandraBackend, SQLiteBackend

WAT_DIR = Path(__file__).parent / "sandbox" / "wat"


def javy_module(name: str) -> bytes:
    return bytes(wasmtime.wat2wasm((WAT_DIR / f"{name}.wat").read_text()))


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[Registry]:
    opened = await open_registry(None, tmp_path / "registry")
    yield opened
    await opened.close()


@pytest.fixture
def engine() -> Iterator[SandboxEngine]:
    # No wasmtime disk cache: every compile here is a real one.
    engine = SandboxEngine()
    yield engine
    engine.close()  # stops its epoch ticker thread


def host_cache(
    engine: SandboxEngine,
    registry: Registry,
    tmp_path: Path,
    name: str,
    capacity_bytes: int = 64 << 20,
) -> ModuleCache:
    return ModuleCache(engine, registry, tmp_path / name / "artifacts", capacity_bytes)


async def test_a_module_is_compiled_once_and_then_served_from_memory(
    engine: SandboxEngine, registry: Registry, tmp_path: Path
) -> None:
    module_hash = await registry.put_module(javy_module("echo"))
    cache = host_cache(engine, registry, tmp_path, "a")
    first = await cache.get(module_hash, ModuleKind.JAVY)
    again = await cache.get(module_hash, ModuleKind.JAVY)
    assert again is first
    assert (cache.stats.compiles, cache.stats.misses, cache.stats.hits) == (1, 1, 1)
    assert await registry.has_artifact(module_hash, engine.fingerprint_for(ModuleKind.JAVY))


async def test_other_hosts_load_the_artifact_and_compile_nothing(
    engine: SandboxEngine, registry: Registry, tmp_path: Path
) -> None:
    module_hash = await registry.put_module(javy_module("echo"))
    await host_cache(engine, registry, tmp_path, "a").get(module_hash, ModuleKind.JAVY)

    other = host_cache(engine, registry, tmp_path, "b")
    await other.get(module_hash, ModuleKind.JAVY)
    restarted = host_cache(engine, registry, tmp_path, "b")
    await restarted.get(module_hash, ModuleKind.JAVY)

    assert (other.stats.compiles, other.stats.registry_loads) == (0, 1)
    assert (restarted.stats.compiles, restarted.stats.local_loads) == (0, 1)


@pytest.fixture(params=["sqlite", "cassandra"])
async def shared_store(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Registry, Registry]]:
    """Two hosts' connections to one registry of each kind."""
    backend: Backend = (
        SQLiteBackend(tmp_path / "shared")
        if request.param == "sqlite"
        else CassandraBackend(request.getfixturevalue("cassandra_session"))
    )
    yield await backend.open(), await backend.open()
    await backend.close_all()


async def test_concurrent_misses_on_two_hosts_compile_once(
    engine: SandboxEngine, shared_store: tuple[Registry, Registry], tmp_path: Path
) -> None:
    first, second = shared_store
    module_hash = await first.put_module(javy_module("echo"))
    caches = [
        host_cache(engine, registry, tmp_path, name)
        for registry, name in ((first, "a"), (second, "b"))
    ]
    # Both hosts miss at once; the compile lease lets one compile while the
    # other waits for its artifact.
    gets = [cache.get(module_hash, ModuleKind.JAVY) for cache in caches for _ in range(3)]
    modules = await asyncio.gather(*gets)
    assert {m.module_hash for m in modules} == {module_hash}
    assert sorted(cache.stats.compiles for cache in caches) == [0, 1]
    assert sorted(cache.stats.registry_loads for cache in caches) == [0, 1]


async def test_a_corrupt_artifact_is_recompiled_and_replaced(
    engine: SandboxEngine, registry: Registry, tmp_path: Path
) -> None:
    module_hash = await registry.put_module(javy_module("echo"))
    await host_cache(engine, registry, tmp_path, "a").get(module_hash, ModuleKind.JAVY)
    _flip_last_byte(
        BlobStore(tmp_path / "registry" / BLOB_DIR_NAME).artifact_path(
            module_hash, engine.fingerprint_for(ModuleKind.JAVY)
        )
    )

    other = host_cache(engine, registry, tmp_path, "b")
    await other.get(module_hash, ModuleKind.JAVY)
    assert other.stats.compiles == 1
    assert (
        await registry.get_artifact(module_hash, engine.fingerprint_for(ModuleKind.JAVY))
        is not None
    )


async def test_a_corrupt_module_is_refused_never_compiled(
    engine: SandboxEngine, registry: Registry, tmp_path: Path
) -> None:
    module_hash = await registry.put_module(javy_module("echo"))
    _flip_last_byte(BlobStore(tmp_path / "registry" / BLOB_DIR_NAME).module_path(module_hash))
    cache = host_cache(engine, registry, tmp_path, "a")
    with pytest.raises(CorruptBlob):
        await cache.get(module_hash, ModuleKind.JAVY)
    assert cache.stats.compiles == 0
    assert module_hash not in cache


async def test_the_cache_holds_at_most_its_bytes_least_recently_used_out_first(
    engine: SandboxEngine, registry: Registry, tmp_path: Path
) -> None:
    hashes = [await registry.put_module(javy_module(name)) for name in ("echo", "loop", "grow")]
    measure = host_cache(engine, registry, tmp_path, "measure")
    sizes = [(await measure.get(h, ModuleKind.JAVY)).code_bytes for h in hashes]
    assert all(size > 0 for size in sizes)
    # Room for the first two modules, not for all three.
    cache = host_cache(engine, registry, tmp_path, "a", capacity_bytes=sizes[0] + max(sizes[1:]))
    for module_hash in hashes[:2]:
        await cache.get(module_hash, ModuleKind.JAVY)
    await cache.get(hashes[0], ModuleKind.JAVY)
    await cache.get(hashes[2], ModuleKind.JAVY)
    assert [h in cache for h in hashes] == [True, False, True]
    assert cache.code_bytes == sizes[0] + sizes[2] <= sizes[0] + max(sizes[1:])
    await cache.get(hashes[1], ModuleKind.JAVY)
    assert cache.stats.local_loads == 1


def _flip_last_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
