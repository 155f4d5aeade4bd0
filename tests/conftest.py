"""Fixtures shared by the whole suite."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cassandra.cluster import Cluster, Session

from host.build import REPO_ROOT, build_all_cached, build_bundle, runtime_component
from host.sandbox import CompiledModule, Sandbox, SandboxEngine
from tests.support import cassandra as local_cassandra
from tests.support import servers
from tests.support.bundles import prepared
from tests.support.registries import CASSANDRA_KEYSPACE, cassandra_up, create_keyspace
from tests.support.scripts import DEPLOYED


@pytest.fixture(scope="session")
def sandbox_engine() -> Iterator[SandboxEngine]:
    engine = SandboxEngine(cache_dir=REPO_ROOT / ".build" / "wasmtime-cache")
    yield engine
    engine.close()


@pytest.fixture(scope="session")
def sandbox(sandbox_engine: SandboxEngine) -> Iterator[Sandbox]:
    box = Sandbox(sandbox_engine, workers=4)
    yield box
    box.close()


@pytest.fixture(scope="session")
def compile_file(
    sandbox_engine: SandboxEngine,
) -> Callable[[Path], CompiledModule]:
    """Compile a .wasm file once per session (wasmtime's disk cache spans sessions)."""
    compiled: dict[Path, CompiledModule] = {}

    def compile_(path: Path) -> CompiledModule:
        if path not in compiled:
            compiled[path] = sandbox_engine.compile(path.read_bytes())
        return compiled[path]

    return compile_


@pytest.fixture(scope="session")
def example_backend() -> Iterator[str]:
    with servers.example_backend() as base:
        yield base


@pytest.fixture(scope="session")
def built() -> dict[str, Path]:
    """Every script the host tests deploy, built once (in parallel) for the session."""
    return dict(zip(DEPLOYED, build_all_cached(DEPLOYED.values()), strict=True))


@pytest.fixture(scope="session")
def runtimes(compile_file: Callable[[Path], CompiledModule]) -> dict[str, CompiledModule]:
    """The shared runtimes of this checkout's SDKs, built and compiled once."""
    return {language: compile_file(runtime_component(language)) for language in ("js", "python")}


@pytest.fixture(scope="session")
def bundled(
    sandbox: Sandbox, runtimes: dict[str, CompiledModule], tmp_path_factory: pytest.TempPathFactory
) -> Callable[[Path], CompiledModule]:
    """A script bundled and prepared on its runtime, as a deploy does."""

    def bundle(source: Path) -> CompiledModule:
        out = tmp_path_factory.mktemp("bundles") / f"{source.stem}.bundle"
        return prepared(sandbox, runtimes, build_bundle(source, out).read_bytes())

    return bundle


@pytest.fixture(scope="session")
def cassandra_session() -> Iterator[Session]:
    """A keyspace created once by the registry itself; each test empties it (far faster).

    Synchronous, because backends ask for it from inside the running loop;
    the registry creates the keyspace on a loop of its own, in a thread.
    """
    cassandra_up()
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, create_keyspace()).result()
    cluster = Cluster([local_cassandra.ADDRESS], port=local_cassandra.CQL_PORT)
    session = cluster.connect(CASSANDRA_KEYSPACE)
    yield session
    cluster.shutdown()
