"""Compiling uploads where they cannot hurt the host: a child process with limits.

Cranelift's memory and time grow with what the module contains, and a
module is whatever a team uploaded. So the host never compiles one in its
own process: a child (`python -m host.sandbox._compile_child`) builds the
same engine configuration, compiles under an address-space and a CPU-time
limit, and writes the artifact straight to the file the host then maps. At
most `concurrency` compiles run at once; the rest wait their turn. Before
any of that, the module's shape (functions, memories, tables, instances) is
checked against what a script may have.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

from host.sandbox import _store as store_limits
from host.sandbox._engine import CompiledModule, SandboxEngine, module_hash, module_kind
from host.sandbox._errors import InsufficientStorage, InvalidModule, ModuleRejected
from host.sandbox._shape import check_shape, shape_of

MiB = 1 << 20
# Exit statuses of the child besides 0 (success).
EXIT_INVALID = 65
EXIT_NO_SPACE = 66


@dataclass(frozen=True, slots=True)
class CompileLimits:
    """What one compile may use. SDK builds of both languages peak near 620 MB of
    address space and 17 s of CPU."""

    memory_bytes: int = 2048 * MiB
    cpu_seconds: int = 120
    wall_seconds: float = 300.0
    concurrency: int = 1


class IsolatedCompiler:
    def __init__(self, engine: SandboxEngine, limits: CompileLimits | None = None) -> None:
        self._engine = engine
        self.limits = limits or CompileLimits()
        self._slots = asyncio.Semaphore(self.limits.concurrency)

    async def compile(self, wasm: bytes, artifact: Path) -> CompiledModule:
        """Check, compile in a child and load the artifact it wrote at `artifact`.

        On any failure nothing is left at `artifact`.
        """
        kind = module_kind(wasm)
        check_shape(
            shape_of(wasm),
            max_memories=store_limits.MAX_MEMORIES,
            max_tables=store_limits.MAX_TABLES,
            max_instances=store_limits.MAX_INSTANCES,
        )
        async with self._slots:
            try:
                await self._run_child(wasm, kind.value, artifact)
                return await asyncio.to_thread(
                    self._engine.load_artifact, kind, artifact, module_hash(wasm)
                )
            except BaseException:
                await asyncio.to_thread(artifact.unlink, missing_ok=True)
                raise

    async def _run_child(self, wasm: bytes, kind: str, artifact: Path) -> None:
        limits = self.limits
        cache = self._engine.cache_dir
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "host.sandbox._compile_child",
            kind,
            str(artifact),
            str(limits.memory_bytes),
            str(limits.cpu_seconds),
            str(cache) if cache is not None else "",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            _, errors = await asyncio.wait_for(child.communicate(wasm), limits.wall_seconds)
        except TimeoutError:
            raise ModuleRejected(
                f"compiling the module took longer than {limits.wall_seconds:.0f} s"
            ) from None
        finally:
            if child.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    child.kill()
                await child.wait()
        _raise_for(child.returncode, errors.decode("utf-8", "replace").strip(), limits)


def _raise_for(status: int | None, message: str, limits: CompileLimits) -> None:
    if status == 0:
        return
    if status == EXIT_INVALID:
        raise InvalidModule(message)
    if status == EXIT_NO_SPACE:
        raise InsufficientStorage(message)
    if status in (-signal.SIGXCPU, -signal.SIGKILL):
        raise ModuleRejected(f"compiling the module needed more than {limits.cpu_seconds} s of CPU")
    # Out of address space: an allocation fails and the child aborts (Rust)
    # or exits with a MemoryError (Python).
    if status == -signal.SIGABRT or "MemoryError" in message or "memory allocation" in message:
        raise ModuleRejected(
            f"compiling the module needed more than {limits.memory_bytes // MiB} MiB of memory"
        )
    raise RuntimeError(f"the compile process failed with status {status}: {message[-500:]}")
