"""The wasmtime engine every sandbox shares: config, epoch ticker, fingerprint, compile."""

from __future__ import annotations

import hashlib
import json
import platform
import threading
from dataclasses import dataclass
from enum import StrEnum
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

import wasmtime
from wasmtime import component as wc

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


class InvalidModule(ValueError):
    """Bytes that are not a wasm component or core module wasmtime can compile."""


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


class EpochTicker:
    """Advances the engine's epoch on a daemon thread so deadlines fire without polling."""

    def __init__(self, engine: wasmtime.Engine, tick_seconds: float) -> None:
        self._engine = engine
        self._tick_seconds = tick_seconds
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="epoch-ticker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self._tick_seconds):
            self._engine.increment_epoch()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


def _code_affecting_settings() -> dict[str, object]:
    return {
        "consume_fuel": True,
        "epoch_interruption": True,
        "memory_init_cow": True,
        "cranelift_opt_level": "speed",
    }


class SandboxEngine:
    """One wasmtime engine for the process, configured for metered, interruptible sandboxes."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        settings = _code_affecting_settings()
        config = wasmtime.Config()
        config.consume_fuel = bool(settings["consume_fuel"])
        config.epoch_interruption = bool(settings["epoch_interruption"])
        config.memory_init_cow = bool(settings["memory_init_cow"])
        config.cranelift_opt_level = str(settings["cranelift_opt_level"])
        config.parallel_compilation = True
        if cache_dir is not None:
            config.cache = str(_write_cache_config(cache_dir))
        self.engine = wasmtime.Engine(config)
        self.fingerprint = engine_fingerprint(settings)
        self._ticker = EpochTicker(self.engine, EPOCH_TICK_SECONDS)

    def compile(self, wasm: bytes) -> CompiledModule:
        """Compile with Cranelift (seconds for a real component: never on the request path)."""
        kind = module_kind(wasm)
        if kind is ModuleKind.BUNDLE:
            raise InvalidModule("a bundle is not compiled: it runs on its runtime")
        try:
            code: wc.Component | wasmtime.Module = (
                wc.Component(self.engine, wasm)
                if kind is ModuleKind.COMPONENT
                else wasmtime.Module(self.engine, wasm)
            )
        except wasmtime.WasmtimeError as error:
            raise InvalidModule(f"wasm does not compile: {_first_line(str(error))}") from error
        return CompiledModule(kind, code, module_hash(wasm))

    def serialize(self, module: CompiledModule) -> bytes:
        assert isinstance(module.code, wc.Component | wasmtime.Module), "bundles are not compiled"
        return bytes(module.code.serialize())

    def load_artifact(self, kind: ModuleKind, path: Path, module_hash_: str) -> CompiledModule:
        """Load a precompiled artifact of this engine's fingerprint (milliseconds, mmapped)."""
        code: wc.Component | wasmtime.Module = (
            wc.Component.deserialize_file(self.engine, str(path))
            if kind is ModuleKind.COMPONENT
            else wasmtime.Module.deserialize_file(self.engine, str(path))
        )
        return CompiledModule(kind, code, module_hash_)

    def close(self) -> None:
        self._ticker.stop()


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
    config_path.write_text(f"[cache]\ndirectory = {json.dumps(str(cache_dir.resolve()))}\n")
    return config_path


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unknown error"
