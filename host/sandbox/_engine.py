"""The wasmtime engine every sandbox shares: config, epoch ticker, fingerprint, compile."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import threading
from dataclasses import dataclass
from enum import StrEnum
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import wasmtime
from wasmtime import component as wc

from host.sandbox import _core_memory as core_memory
from host.sandbox._errors import InvalidModule

if TYPE_CHECKING:
    from host.sandbox._runtime import ScriptOnRuntime

# The epoch advances every tick; a request's wall-clock deadline is a whole
# number of ticks, so this is the resolution of `timeout`.
EPOCH_TICK_SECONDS = 0.005

_CORE_MODULE_HEADER = b"\0asm\x01\x00\x00\x00"
_COMPONENT_HEADER = b"\0asm\x0d\x00\x01\x00"
# Any version: the bundle reader refuses formats it does not know by name.
_BUNDLE_HEADER = b"SCRIPTHOST-BUNDLE "


class ModuleKind(StrEnum):
    COMPONENT = "component"
    # A core WASI command module following the Javy contract (stdin -> stdout).
    JAVY = "javy"
    # A script bundle, run by a shared language runtime (see _runtime.py).
    BUNDLE = "bundle"


# The kinds wasmtime compiles (a bundle runs on a compiled runtime component).
COMPILED_KINDS = (ModuleKind.COMPONENT, ModuleKind.JAVY)


def module_kind(wasm: bytes) -> ModuleKind:
    if wasm.startswith(_COMPONENT_HEADER):
        return ModuleKind.COMPONENT
    if wasm.startswith(_CORE_MODULE_HEADER):
        return ModuleKind.JAVY
    if wasm.startswith(_BUNDLE_HEADER):
        return ModuleKind.BUNDLE
    raise InvalidModule("not a WebAssembly module or component (bad magic number or version)")


@dataclass(frozen=True, slots=True)
class CompiledModule:
    """A module compiled for this engine; cheap to instantiate many times."""

    kind: ModuleKind
    code: wc.Component | wasmtime.Module | ScriptOnRuntime
    module_hash: str
    # Bytes of compiled code (the artifact's size), when known: what the
    # module cache counts.
    code_bytes: int = 0
    # The artifact file it was loaded from (mmapped), if any.
    artifact: Path | None = None


class EpochTicker:
    """Advances the engines' epochs on a daemon thread so deadlines fire without polling."""

    def __init__(self, engines: list[wasmtime.Engine], tick_seconds: float) -> None:
        self._engines = engines
        self._tick_seconds = tick_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="epoch-ticker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._tick_seconds):
            for engine in self._engines:
                engine.increment_epoch()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


def code_affecting_settings(kind: ModuleKind) -> dict[str, object]:
    settings: dict[str, object] = {
        "consume_fuel": True,
        "epoch_interruption": True,
        "memory_init_cow": kind is ModuleKind.COMPONENT,
        "cranelift_opt_level": "speed",
    }
    if kind is ModuleKind.JAVY:
        settings["linear_memory"] = "host"
    return settings


def engine_config(kind: ModuleKind, cache_dir: Path | None) -> wasmtime.Config:
    """The configuration of the engine that compiles and runs modules of `kind`.

    Components get copy-on-write memory images (fast instantiation of large
    runtimes); core modules get linear memory from the host (see
    _core_memory), which cannot be combined with those images.
    """
    settings = code_affecting_settings(kind)
    config = wasmtime.Config()
    config.consume_fuel = bool(settings["consume_fuel"])
    config.epoch_interruption = bool(settings["epoch_interruption"])
    config.memory_init_cow = bool(settings["memory_init_cow"])
    config.cranelift_opt_level = str(settings["cranelift_opt_level"])
    config.parallel_compilation = True
    if kind is ModuleKind.JAVY:
        core_memory.install(config)
    if cache_dir is not None:
        config.cache = str(_write_cache_config(cache_dir))
    return config


class SandboxEngine:
    """The process's wasmtime engines (one per module kind), configured for metered,
    interruptible sandboxes."""

    def __init__(self, cache_dir: Path | None = None, *, artifacts_in_memory: bool = False) -> None:
        self.cache_dir = cache_dir
        self.artifacts_in_memory = artifacts_in_memory
        self._engines = {
            kind: wasmtime.Engine(engine_config(kind, cache_dir)) for kind in COMPILED_KINDS
        }
        self._fingerprints = {
            kind: engine_fingerprint(code_affecting_settings(kind)) for kind in COMPILED_KINDS
        }
        self.engine = self._engines[ModuleKind.COMPONENT]
        self.core_engine = self._engines[ModuleKind.JAVY]
        self.fingerprint = self._fingerprints[ModuleKind.COMPONENT]
        self._ticker = EpochTicker(list(self._engines.values()), EPOCH_TICK_SECONDS)

    def fingerprint_for(self, kind: ModuleKind) -> str:
        """What keys this kind's artifacts: they load only into an engine of the same kind."""
        return self._fingerprints[kind]

    def compile(self, wasm: bytes) -> CompiledModule:
        """Compile with Cranelift in this process.

        For modules this process may trust (tests, `scripthost invoke` of the
        user's own file): the host compiles uploads in a child process with
        limits instead (see _compiler). Seconds for a real component: never
        on the request path.
        """
        kind = module_kind(wasm)
        if kind is ModuleKind.BUNDLE:
            raise InvalidModule("a bundle is not compiled: it runs on its runtime")
        return CompiledModule(kind, _compile(self._engines[kind], kind, wasm), module_hash(wasm))

    def serialize(self, module: CompiledModule) -> bytes:
        assert isinstance(module.code, wc.Component | wasmtime.Module), "bundles are not compiled"
        return bytes(module.code.serialize())

    def load_artifact(self, kind: ModuleKind, path: Path, module_hash_: str) -> CompiledModule:
        """Load a precompiled artifact of this engine's fingerprint (milliseconds).

        Mapped from the file by default: the host's processes share its pages,
        and each new instance maps its memory image from it (page cache).
        With `artifacts_in_memory`, read into the process's own memory, each
        image a memory file of the process. That is for kernels that sample
        page accesses for proactive reclaim (DAMON): the sampler walks every
        mapping of a page with the page locked, and a guest touching a page
        of the shared file waited for it while the threads making instances
        waited behind the guest: runs in every process stood still for up to
        3 s, with no disk read. The price, measured: a copy per process, and
        fresh instances cost 5 to 25 % more CPU (README, Performance).
        """
        engine = self._engines[kind]
        if self.artifacts_in_memory:
            artifact = path.read_bytes()
            code: wc.Component | wasmtime.Module = (
                wc.Component.deserialize(engine, artifact)
                if kind is ModuleKind.COMPONENT
                else wasmtime.Module.deserialize(engine, artifact)
            )
        else:
            code = (
                wc.Component.deserialize_file(engine, str(path))
                if kind is ModuleKind.COMPONENT
                else wasmtime.Module.deserialize_file(engine, str(path))
            )
        return CompiledModule(kind, code, module_hash_, path.stat().st_size, path)

    def close(self) -> None:
        self._ticker.stop()


def compile_artifact(wasm: bytes, kind: ModuleKind, cache_dir: Path | None) -> bytearray:
    """Compile for a fresh engine of `kind`'s configuration and serialize (the compile child)."""
    return _compile(wasmtime.Engine(engine_config(kind, cache_dir)), kind, wasm).serialize()


def _compile(
    engine: wasmtime.Engine, kind: ModuleKind, wasm: bytes
) -> wc.Component | wasmtime.Module:
    try:
        if kind is ModuleKind.COMPONENT:
            return wc.Component(engine, wasm)
        return wasmtime.Module(engine, wasm)
    except wasmtime.WasmtimeError as error:
        raise InvalidModule(f"wasm does not compile: {_first_line(str(error))}") from error


def module_hash(wasm: bytes) -> str:
    return hashlib.sha256(wasm).hexdigest()


def engine_fingerprint(settings: dict[str, object]) -> str:
    """wasmtime version + target + the settings that change generated code."""
    identity = {
        "wasmtime": version("wasmtime"),
        "target": f"{platform.machine()}-{platform.system()}".lower(),
        "settings": settings,
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return f"wasmtime-{identity['wasmtime']}-{identity['target']}-{digest[:16]}"


def _write_cache_config(cache_dir: Path) -> Path:
    cache_dir.mkdir(parents=True, exist_ok=True)
    config_path = cache_dir / "wasmtime-cache.toml"
    text = f"[cache]\ndirectory = {json.dumps(str(cache_dir.resolve()))}\n"
    # The host and its compile children read it: replace it whole, never rewrite it in place.
    if not config_path.is_file() or config_path.read_text() != text:
        partial = config_path.with_name(f".{config_path.name}.{os.getpid()}")
        partial.write_text(text)
        partial.replace(config_path)
    return config_path


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"
