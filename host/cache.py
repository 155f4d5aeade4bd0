"""Compiled modules kept hot: an in-memory LRU over local artifacts over the registry.

A miss loads the precompiled artifact for this engine's fingerprint, from the
local artifact directory first and then from the registry (milliseconds). Only
when no artifact exists anywhere is the module compiled (seconds), and then
under a registry lease, so one host per fleet compiles it and the others wait
for its artifact. Compiles run in a child process with limits (see
host.sandbox._compiler), which writes the artifact once, to the local file
the module is then mapped from. The LRU is bounded by the bytes of compiled
code it holds, not by a count: modules differ in size by orders of magnitude.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import os
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from host.limits import MiB
from host.logs import get_logger
from host.sandbox import (
    CompiledModule,
    CompileLimits,
    InsufficientStorage,
    IsolatedCompiler,
    ModuleKind,
    SandboxEngine,
    module_hash,
    module_kind,
)
from registry import CorruptBlob

log = get_logger("scripthost.cache")

COMPILE_LEASE_SECONDS = 120.0
DEFAULT_CAPACITY_BYTES = 1024 * MiB
_LEASE_POLL_SECONDS = 0.25
_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class ArtifactStore(Protocol):
    """What the cache needs from the registry."""

    async def get_module(self, module_hash: str) -> bytes: ...

    async def get_artifact(self, module_hash: str, fingerprint: str) -> bytes | None: ...

    async def put_artifact(self, module_hash: str, fingerprint: str, data: bytes) -> None: ...

    async def try_lease(self, key: str, holder: str, ttl_seconds: float) -> bool: ...

    async def release_lease(self, key: str, holder: str) -> None: ...


@dataclass(frozen=True, slots=True)
class CompileEvent:
    module_hash: str
    seconds: float


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    local_loads: int = 0
    registry_loads: int = 0
    compiles: int = 0


class ModuleCache:
    def __init__(
        self,
        engine: SandboxEngine,
        store: ArtifactStore,
        artifact_dir: Path,
        capacity_bytes: int = DEFAULT_CAPACITY_BYTES,
        on_compile: Callable[[CompileEvent], None] | None = None,
        compile_limits: CompileLimits | None = None,
    ) -> None:
        self._engine = engine
        self._store = store
        self._artifact_dir = artifact_dir
        self._capacity_bytes = capacity_bytes
        self._bytes = 0
        self._compiler = IsolatedCompiler(engine, compile_limits)
        self._modules: OrderedDict[str, CompiledModule] = OrderedDict()
        self._loading: dict[str, asyncio.Future[CompiledModule]] = {}
        self._on_compile = on_compile
        self._holder = f"{os.uname().nodename}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.stats = CacheStats()
        artifact_dir.mkdir(parents=True, exist_ok=True)

    def __contains__(self, module_hash: str) -> bool:
        return module_hash in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    @property
    def code_bytes(self) -> int:
        """Bytes of compiled code held in memory."""
        return self._bytes

    async def get(self, module_hash: str, kind: ModuleKind) -> CompiledModule:
        module = self._modules.get(module_hash)
        if module is not None:
            self._modules.move_to_end(module_hash)
            self.stats.hits += 1
            return module
        self.stats.misses += 1
        return await self._single_flight(module_hash, lambda: self._load(module_hash, kind))

    def peek(self, module_hash: str) -> CompiledModule | None:
        """The module if it is in memory; no loading, no statistics."""
        return self._modules.get(module_hash)

    async def add_compiled(self, module: CompiledModule) -> None:
        """Persist and cache a module compiled at upload; it never compiles again."""
        self._remember(await self._persist(module))

    async def accept(
        self,
        wasm: bytes,
        check: Callable[[CompiledModule], None],
        store: Callable[[bytes], Awaitable[str]],
    ) -> str:
        """Compile `wasm` (unless it is in memory already), `check` it, `store` it; its hash.

        The same module uploaded again (another endpoint, a re-deploy) is not
        compiled again; a refused or failed upload leaves no artifact behind.
        """
        known = self.peek(module_hash(wasm))
        compiled = known or await self.compile(wasm)
        try:
            check(compiled)
            stored = await store(wasm)
            if known is None:
                await self.add_compiled(compiled)
        finally:
            self.discard(compiled)
        return stored

    def discard(self, module: CompiledModule) -> None:
        """Drop the artifact of a compiled module that will not be kept (a refused upload)."""
        pending = _pending_artifact(module)
        if pending is not None:
            pending.unlink(missing_ok=True)

    async def _single_flight(
        self, module_hash: str, load: Callable[[], Awaitable[CompiledModule]]
    ) -> CompiledModule:
        pending = self._loading.get(module_hash)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[CompiledModule] = asyncio.get_running_loop().create_future()
        self._loading[module_hash] = future
        try:
            module = await load()
            self._remember(module)
            future.set_result(module)
            return module
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # a failure nobody else awaited is not "never retrieved"
            raise
        finally:
            del self._loading[module_hash]

    async def _load(self, module_hash: str, kind: ModuleKind) -> CompiledModule:
        local = self._local_path(module_hash, kind)
        if await asyncio.to_thread(local.exists):
            module = await self._deserialize(kind, local, module_hash)
            if module is not None:
                self.stats.local_loads += 1
                return module
        fingerprint = self._engine.fingerprint_for(kind)
        while True:
            module = await self._load_registry_artifact(module_hash, kind, fingerprint)
            if module is not None:
                return module
            lease = f"compile:{module_hash}:{fingerprint}"
            if await self._store.try_lease(lease, self._holder, COMPILE_LEASE_SECONDS):
                try:
                    # The lease's previous holder may have published the artifact
                    # between our look and our lease: look again before compiling.
                    module = await self._load_registry_artifact(module_hash, kind, fingerprint)
                    return module or await self._compile_and_persist(module_hash)
                finally:
                    await self._store.release_lease(lease, self._holder)
            await asyncio.sleep(_LEASE_POLL_SECONDS)

    async def _load_registry_artifact(
        self, module_hash: str, kind: ModuleKind, fingerprint: str
    ) -> CompiledModule | None:
        artifact = await self._registry_artifact(module_hash, fingerprint)
        if artifact is None:
            return None
        module = await self._install_artifact(kind, module_hash, artifact)
        if module is not None:
            self.stats.registry_loads += 1
        return module

    async def _registry_artifact(self, module_hash: str, fingerprint: str) -> bytes | None:
        try:
            return await self._store.get_artifact(module_hash, fingerprint)
        except CorruptBlob as error:
            # A damaged artifact is rebuilt from the module, which is checked
            # against its own hash; the recompiled artifact replaces it.
            log.warning("corrupt artifact ignored", module_hash=module_hash, error=str(error))
            return None

    async def _compile_and_persist(self, module_hash: str) -> CompiledModule:
        wasm = await self._store.get_module(module_hash)
        module = await self.compile(wasm)
        try:
            return await self._persist(module)
        finally:
            self.discard(module)

    async def compile(self, wasm: bytes) -> CompiledModule:
        """Compile in a child process with limits, counting it (compiles are what the fleet
        avoids). The artifact stays pending until the module is persisted or discarded."""
        started = time.monotonic()
        hash_ = module_hash(wasm)
        pending = self._local_path(hash_, module_kind(wasm)).with_suffix(
            f".{uuid.uuid4().hex[:8]}.partial"
        )
        module = await self._compiler.compile(wasm, pending)
        self.stats.compiles += 1
        if self._on_compile is not None:
            self._on_compile(CompileEvent(module.module_hash, time.monotonic() - started))
        return module

    async def _persist(self, module: CompiledModule) -> CompiledModule:
        """Keep the artifact in the local directory and the registry; the module as kept."""
        local = self._local_path(module.module_hash, module.kind)
        pending = _pending_artifact(module)
        if pending is not None:
            await asyncio.to_thread(pending.replace, local)
            artifact = await asyncio.to_thread(local.read_bytes)
        else:  # compiled in this process
            artifact = await asyncio.to_thread(self._engine.serialize, module)
            await asyncio.to_thread(self._write_local, local, artifact)
        fingerprint = self._engine.fingerprint_for(module.kind)
        await self._store.put_artifact(module.module_hash, fingerprint, artifact)
        return dataclasses.replace(module, code_bytes=len(artifact), artifact=local)

    async def _install_artifact(
        self, kind: ModuleKind, module_hash: str, artifact: bytes
    ) -> CompiledModule | None:
        local = self._local_path(module_hash, kind)
        await asyncio.to_thread(self._write_local, local, artifact)
        return await self._deserialize(kind, local, module_hash)

    async def _deserialize(
        self, kind: ModuleKind, path: Path, module_hash: str
    ) -> CompiledModule | None:
        try:
            return await asyncio.to_thread(self._engine.load_artifact, kind, path, module_hash)
        except Exception:
            # A stale or damaged artifact is not fatal: drop it and fall back.
            await asyncio.to_thread(path.unlink, missing_ok=True)
            return None

    def _remember(self, module: CompiledModule) -> None:
        previous = self._modules.pop(module.module_hash, None)
        if previous is not None:
            self._bytes -= previous.code_bytes
        self._modules[module.module_hash] = module
        self._bytes += module.code_bytes
        # The module just used always stays, however large.
        while self._bytes > self._capacity_bytes and len(self._modules) > 1:
            _, evicted = self._modules.popitem(last=False)
            self._bytes -= evicted.code_bytes

    def _local_path(self, module_hash: str, kind: ModuleKind) -> Path:
        fingerprint = self._engine.fingerprint_for(kind)
        return self._artifact_dir / f"{module_hash}.{fingerprint}.{kind.value}.cwasm"

    @staticmethod
    def _write_local(path: Path, artifact: bytes) -> None:
        partial = path.with_suffix(f".{uuid.uuid4().hex[:8]}.partial")
        try:
            partial.write_bytes(artifact)
            partial.replace(path)
        except OSError as error:
            partial.unlink(missing_ok=True)
            if error.errno in _NO_SPACE:
                raise InsufficientStorage(
                    f"no space left to store the compiled module: {error.strerror}"
                ) from error
            raise


def _pending_artifact(module: CompiledModule) -> Path | None:
    """The artifact of a module compiled but not yet kept, if it is one."""
    artifact = module.artifact
    return artifact if artifact is not None and artifact.suffix == ".partial" else None
