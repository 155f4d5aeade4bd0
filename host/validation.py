"""What an uploaded module may import and must export, checked before anything is stored."""

from __future__ import annotations

import re

import wasmtime
from wasmtime import component as wc

from host.sandbox import CompiledModule
from host.sandbox._javy import PREVIEW1_FUNCTIONS, WASI_MODULE

# scripthost:abi/<interface>@0.1.<patch>
_ABI_IMPORT = re.compile(r"^scripthost:abi/(types|backend|log|config)@0\.1\.\d+$")
# Capability-free WASI 0.2 the host provides with nothing behind it.
_WASI_IMPORT = re.compile(
    r"^wasi:("
    r"cli/(stdin|stdout|stderr|environment|exit|terminal-input|terminal-output"
    r"|terminal-stdin|terminal-stdout|terminal-stderr)"
    r"|io/(error|poll|streams)"
    r"|clocks/(monotonic-clock|wall-clock)"
    r"|random/(random|insecure|insecure-seed)"
    r")@0\.2\.\d+$"
)


class ModuleRejected(ValueError):
    """The module is valid wasm but not something this host will run."""


def check_module(module: CompiledModule, engine: wasmtime.Engine) -> None:
    """Raise ModuleRejected unless the module fits the ABI or the Javy contract."""
    if isinstance(module.code, wc.Component):
        _check_component(module.code, engine)
    elif isinstance(module.code, wasmtime.Module):
        _check_javy(module.code)


def _check_component(component: wc.Component, engine: wasmtime.Engine) -> None:
    kind = component.type
    refused = [
        name
        for name in kind.imports(engine)
        if not (_ABI_IMPORT.match(name) or _WASI_IMPORT.match(name))
    ]
    if refused:
        raise ModuleRejected(
            "the component imports what the host does not provide: " + ", ".join(sorted(refused))
        )
    if "handle" not in kind.exports(engine):
        raise ModuleRejected(
            "the component does not export `handle` (world scripthost:abi/endpoint)"
        )


def _check_javy(module: wasmtime.Module) -> None:
    refused = sorted(
        f"{item.module}::{item.name}"
        for item in module.imports
        if item.module != WASI_MODULE or item.name not in PREVIEW1_FUNCTIONS
    )
    if refused:
        raise ModuleRejected(
            "the module imports what the host does not provide: " + ", ".join(refused)
        )
    exports = {item.name for item in module.exports}
    missing = {"_start", "memory"} - exports
    if missing:
        raise ModuleRejected(
            "a core module must be a WASI command exporting _start and memory; missing: "
            + ", ".join(sorted(missing))
        )
