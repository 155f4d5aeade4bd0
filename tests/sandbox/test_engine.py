"""Loading precompiled artifacts: mapped from their files, or read into the process's memory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmtime

from host.sandbox import ModuleKind, Sandbox, SandboxEngine
from tests.support.components import handle_component
from tests.support.runs import run_once

# A data segment of several pages: the memory image each new instance of a
# component maps, copy-on-write, from the file its module was loaded from.
PAGES_OF_DATA = f'(data (i32.const 4096) "{"x" * 5 * 4096}")'
CORE = f'(module (memory (export "memory") 1) {PAGES_OF_DATA} (func (export "_start")))'
KINDS = [ModuleKind.COMPONENT, ModuleKind.JAVY]


@pytest.fixture
def in_memory_engine() -> Iterator[SandboxEngine]:
    engine = SandboxEngine(artifacts_in_memory=True)
    yield engine
    engine.close()


def mapped_files() -> set[str]:
    """The files this process has mapped into memory."""
    return {
        fields[5].strip()
        for fields in (line.split(maxsplit=5) for line in Path("/proc/self/maps").open())
        if len(fields) == 6
    }


def write_artifact(engine: SandboxEngine, kind: ModuleKind, directory: Path) -> Path:
    wasm = (
        handle_component(module_fields=PAGES_OF_DATA)
        if kind is ModuleKind.COMPONENT
        else bytes(wasmtime.wat2wasm(CORE))
    )
    artifact = directory / f"module.{kind.value}.cwasm"
    artifact.write_bytes(engine.serialize(engine.compile(wasm)))
    return artifact


@pytest.mark.parametrize("kind", KINDS)
async def test_by_default_an_artifact_is_mapped_from_its_file(
    sandbox: Sandbox, sandbox_engine: SandboxEngine, tmp_path: Path, kind: ModuleKind
) -> None:
    artifact = write_artifact(sandbox_engine, kind, tmp_path)

    loaded = sandbox_engine.load_artifact(kind, artifact, "module-hash")

    # The host's processes share its pages; instances map their images from it.
    assert str(artifact) in mapped_files()
    assert (await run_once(sandbox, loaded)).failure_message == ""
    assert loaded.code_bytes == artifact.stat().st_size


@pytest.mark.parametrize("kind", KINDS)
async def test_in_memory_an_artifact_is_the_processs_own_and_runs_with_its_file_gone(
    in_memory_engine: SandboxEngine, tmp_path: Path, kind: ModuleKind
) -> None:
    artifact = write_artifact(in_memory_engine, kind, tmp_path)
    size = artifact.stat().st_size

    loaded = in_memory_engine.load_artifact(kind, artifact, "module-hash")

    # Where the kernel samples page accesses, pages of a mapped file stalled
    # every process mapping it: nothing is mapped from the artifact.
    assert str(artifact) not in mapped_files()
    artifact.unlink()
    box = Sandbox(in_memory_engine, workers=1)
    try:
        assert (await run_once(box, loaded)).failure_message == ""
    finally:
        box.close()
    assert loaded.code_bytes == size  # what the module cache counts
