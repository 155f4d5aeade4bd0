"""What serves a route: a module from the module cache, or a bundle on its shared runtime.

A bundle is a few KB naming its runtime; the runtime is a module like any
other, so the module cache compiles it once per fleet (under its compile
lease) and holds one copy in memory for every bundle that names it. What the
runtime's `prepare` made of a bundle at deploy is stored in the registry as
an artifact of the bundle for that runtime, so every other host loads it
instead of preparing it again: a new bundle on a known runtime compiles
nothing anywhere. Bundles are kept in memory by bytes, least recently used
out; a miss reads the registry (milliseconds).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from wasmtime import component as wc

from host.cache import ArtifactStore, ModuleCache
from host.errors import HostError
from host.flights import SingleFlight
from host.limits import MiB
from host.logs import get_logger
from host.sandbox import (
    ABI_VERSION,
    Bundle,
    CompiledModule,
    ModuleKind,
    RuntimeRejected,
    ScriptOnRuntime,
    check_runtime,
    module_kind,
    on_runtime,
    parse_bundle,
)
from host.sandbox._runtime import RuntimeRunner
from registry import CorruptBlob

log = get_logger("scripthost.loader")

BUNDLE_CACHE_BYTES = 64 * MiB


class ModuleSource(Protocol):
    """Where the request path and the route table get what runs an endpoint version."""

    async def get(self, module_hash: str, kind: ModuleKind) -> CompiledModule: ...


class BundleStore(ArtifactStore, Protocol):
    """What the loader needs from the registry besides what the module cache does."""

    async def put_module(self, data: bytes) -> str: ...

    async def has_module(self, module_hash: str) -> bool: ...


class UnknownRuntime(HostError, LookupError):
    """A bundle names a runtime the registry does not hold."""

    status = 422
    code = "unknown_runtime"


def prepared_key(runtime_hash: str) -> str:
    """The artifact "fingerprint" under which a bundle's prepared form for a runtime is kept."""
    return f"runtime-{runtime_hash}"


@dataclass(slots=True)
class LoaderStats:
    bundle_loads: int = 0
    # Bundles a runtime prepared on this host: at deploy, or when no host had.
    prepares: int = 0


class Loader:
    def __init__(
        self,
        cache: ModuleCache,
        store: BundleStore,
        runtimes: RuntimeRunner,
        capacity_bytes: int = BUNDLE_CACHE_BYTES,
    ) -> None:
        self._cache = cache
        self._store = store
        self._runtimes = runtimes
        self._capacity_bytes = capacity_bytes
        self._bundles: OrderedDict[str, CompiledModule] = OrderedDict()
        self._bytes = 0
        self._flights: SingleFlight[str, CompiledModule] = SingleFlight()
        self._checked_runtimes: set[str] = set()
        self.stats = LoaderStats()

    def __len__(self) -> int:
        return len(self._bundles)

    async def get(self, module_hash: str, kind: ModuleKind) -> CompiledModule:
        if kind is not ModuleKind.BUNDLE:
            return await self._cache.get(module_hash, kind)
        found = self._bundles.get(module_hash)
        if found is not None:
            self._bundles.move_to_end(module_hash)
            return found
        return await self._flights.run(module_hash, lambda: self._load(module_hash))

    async def accept_bundle(self, data: bytes, endpoint: str) -> Bundle:
        """Check a bundle uploaded for `endpoint`, prepare it in its runtime and store both.

        Nothing is stored unless the bundle is one its runtime accepts. A bundle
        this host holds already (deployed again, or to another endpoint) was
        stored and prepared before.
        """
        bundle = parse_bundle(data, ABI_VERSION)
        if bundle.bundle_hash in self._bundles:
            return bundle
        module = await self._prepare(bundle, endpoint)
        assert isinstance(module.code, ScriptOnRuntime)
        await self._store.put_module(data)
        await self._store.put_artifact(
            bundle.bundle_hash,
            prepared_key(bundle.runtime.sha256),
            module.code.script.prepared.encode(),
        )
        self._remember(module)
        return bundle

    async def unstored(self, data: bytes, endpoint: str) -> CompiledModule:
        """A bundle prepared on its runtime to run once, neither stored nor kept."""
        return await self._prepare(parse_bundle(data, ABI_VERSION), endpoint)

    async def _prepare(self, bundle: Bundle, endpoint: str) -> CompiledModule:
        runtime = await self.runtime(bundle)
        assert isinstance(runtime.code, wc.Component)
        prepared = await asyncio.to_thread(
            self._runtimes.prepare, runtime.code, bundle.payload, endpoint
        )
        self.stats.prepares += 1
        return on_runtime(runtime, bundle, prepared)

    async def accept_runtime(self, data: bytes) -> str:
        """Check, compile and store an uploaded runtime; its hash. Compiles only once."""
        if module_kind(data) is not ModuleKind.COMPONENT:
            raise RuntimeRejected("a runtime is a WebAssembly component")
        return await self._cache.accept(data, self._check, self._store.put_module)

    async def runtime(self, bundle: Bundle) -> CompiledModule:
        """The compiled runtime a bundle names; UnknownRuntime if the registry lacks it."""
        sha256 = bundle.runtime.sha256
        if sha256 not in self._cache and not await self._store.has_module(sha256):
            raise UnknownRuntime(
                f"{bundle.runtime.describe()} is not in the registry: upload it first "
                "(scripthost deploy does, when it builds the bundle)"
            )
        runtime = await self._cache.get(sha256, ModuleKind.COMPONENT)
        self._check(runtime)
        return runtime

    def _check(self, runtime: CompiledModule) -> None:
        if runtime.module_hash in self._checked_runtimes:
            return
        if not isinstance(runtime.code, wc.Component):
            raise RuntimeRejected("a runtime is a WebAssembly component")
        check_runtime(runtime.code, self._runtimes.engine)
        self._checked_runtimes.add(runtime.module_hash)

    async def _load(self, bundle_hash: str) -> CompiledModule:
        data = await self._store.get_module(bundle_hash)
        bundle = parse_bundle(data, ABI_VERSION)
        runtime = await self.runtime(bundle)
        key = prepared_key(bundle.runtime.sha256)
        prepared = await self._stored_prepared(bundle_hash, key)
        if prepared is None:
            assert isinstance(runtime.code, wc.Component)
            prepared = await asyncio.to_thread(self._runtimes.prepare, runtime.code, bundle.payload)
            self.stats.prepares += 1
            await self._store.put_artifact(bundle_hash, key, prepared.encode())
        self.stats.bundle_loads += 1
        loaded = on_runtime(runtime, bundle, prepared)
        self._remember(loaded)
        return loaded

    async def _stored_prepared(self, bundle_hash: str, key: str) -> str | None:
        try:
            stored = await self._store.get_artifact(bundle_hash, key)
        except CorruptBlob as error:
            log.warning("corrupt prepared bundle ignored", bundle=bundle_hash, error=str(error))
            return None
        return None if stored is None else stored.decode()

    def _remember(self, module: CompiledModule) -> None:
        if module.module_hash in self._bundles:
            return
        self._bundles[module.module_hash] = module
        self._bytes += _size(module)
        while self._bytes > self._capacity_bytes and len(self._bundles) > 1:
            _, dropped = self._bundles.popitem(last=False)
            self._bytes -= _size(dropped)


def _size(module: CompiledModule) -> int:
    return module.code.size if isinstance(module.code, ScriptOnRuntime) else 0
