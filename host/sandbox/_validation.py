"""What an uploaded module may import and must export, checked before anything is stored.

An upload is type-checked against the world it claims: a component's
imports against the ABI and WASI functions the host implements (name and
type), its `handle` export against the ABI world's; a core module's imports
against the WASI preview 1 signatures the host implements, its `_start` and
`memory` exports by kind and type. Anything else would fail at every request.
"""

from __future__ import annotations

import re

import wasmtime
from wasmtime import component as wc
from wasmtime.component._types import ComponentExtern

from host.sandbox._abi import ABI_PACKAGE, HANDLE_SIGNATURE
from host.sandbox._abi import SIGNATURES as ABI_SIGNATURES
from host.sandbox._engine import CompiledModule
from host.sandbox._errors import ModuleRejected
from host.sandbox._javy import WASI_MODULE, preview1_signature
from host.sandbox._wasi import ANY_SIGNATURE
from host.sandbox._wasi import RESOURCES as WASI_RESOURCES
from host.sandbox._wasi import SIGNATURES as WASI_SIGNATURES
from host.wit_text import Renderer, TypeTooLarge

# interface@version: the ABI at 0.1.x, WASI at 0.2.x (wasmtime's linker
# resolves any patch version to the host's definitions).
_VERSIONED = re.compile(
    r"^(?P<interface>[a-z][a-z0-9-]*:[a-z][a-z0-9-]*/[a-z][a-z0-9-]*)@(?P<version>.+)$"
)
_ABI_VERSION = re.compile(r"^0\.1\.\d+$")
_WASI_VERSION = re.compile(r"^0\.2\.\d+$")
_SIGNATURES = {**ABI_SIGNATURES, **WASI_SIGNATURES}


def check_module(module: CompiledModule, engine: wasmtime.Engine) -> None:
    """Raise ModuleRejected unless the module fits the ABI or the Javy contract."""
    if isinstance(module.code, wc.Component):
        _check_component(module.code, engine)
    elif isinstance(module.code, wasmtime.Module):
        _check_javy(module.code)


def _check_component(component: wc.Component, engine: wasmtime.Engine) -> None:
    kind = component.type
    imports = kind.imports(engine)
    refused = sorted(name for name in imports if _provided_interface(name) is None)
    if refused:
        raise ModuleRejected(
            "the component imports what the host does not provide: " + ", ".join(refused)
        )
    renderer = Renderer(_resources(imports, engine))
    try:
        problems = [
            problem
            for name, extern in imports.items()
            for problem in _import_problems(name, extern, renderer, engine)
        ]
        handle = kind.exports(engine).get("handle")
        if handle is None:
            raise ModuleRejected(
                "the component does not export `handle` (world scripthost:abi/endpoint)"
            )
        handle_type = handle.ty
        declared = (
            renderer.func(handle_type) if isinstance(handle_type, wc.FuncType) else "not a function"
        )
    except TypeTooLarge as error:
        raise ModuleRejected(str(error)) from None
    if declared != HANDLE_SIGNATURE:
        problems.append(f"`handle` is {declared}; the ABI world's is {HANDLE_SIGNATURE}")
    if problems:
        raise ModuleRejected("the component does not fit the host: " + "; ".join(problems))


def _provided_interface(name: str) -> str | None:
    """The interface the host provides under this import name, if it does."""
    match = _VERSIONED.match(name)
    if match is None or match["interface"] not in _SIGNATURES:
        return None
    interface, version = match["interface"], match["version"]
    versions = _ABI_VERSION if interface.startswith(f"{ABI_PACKAGE}/") else _WASI_VERSION
    return interface if versions.match(version) else None


def _resources(
    imports: dict[str, ComponentExtern], engine: wasmtime.Engine
) -> list[tuple[str, wc.ResourceType]]:
    """The resource types the component's imports name, by their name."""
    found = []
    for extern in imports.values():
        instance = extern.ty
        if isinstance(instance, wc.ComponentInstanceType):
            for name, item in instance.exports(engine).items():
                if isinstance(item.ty, wc.ResourceType):
                    found.append((name, item.ty))
    return found


def _import_problems(
    name: str, extern: ComponentExtern, renderer: Renderer, engine: wasmtime.Engine
) -> list[str]:
    interface = _provided_interface(name)
    assert interface is not None
    instance = extern.ty
    if not isinstance(instance, wc.ComponentInstanceType):
        return [f"{name} is imported as something other than an instance"]
    expected = _SIGNATURES[interface]
    resources = {r for names in WASI_RESOURCES.values() for r in names}
    problems = []
    for item_name, item in instance.exports(engine).items():
        ty = item.ty
        if isinstance(ty, wc.FuncType):
            declared = renderer.func(ty)
            wanted = expected.get(item_name)
            if wanted is None:
                problems.append(f"{name} has no function `{item_name}`")
            elif declared != wanted and wanted != ANY_SIGNATURE:
                problems.append(f"{name}#{item_name} is {declared}; the host's is {wanted}")
        elif isinstance(ty, wc.ResourceType):
            if item_name not in resources:
                problems.append(f"{name} has no resource `{item_name}`")
        elif not isinstance(ty, wc.ValType):
            problems.append(f"{name} has no `{item_name}`")
    return problems


def _check_javy(module: wasmtime.Module) -> None:
    problems = [problem for item in module.imports for problem in _preview1_problems(item)]
    exports = {item.name: item.type for item in module.exports}
    start, memory = exports.get("_start"), exports.get("memory")
    if not isinstance(start, wasmtime.FuncType):
        problems.append("it must export a function `_start`")
    elif start.params or start.results:
        problems.append("`_start` must take no parameters and return nothing")
    if not isinstance(memory, wasmtime.MemoryType):
        problems.append("it must export its linear memory as `memory`")
    if problems:
        raise ModuleRejected(
            "the module is not a WASI command the host can run: " + "; ".join(problems)
        )


def _preview1_problems(item: wasmtime.ImportType) -> list[str]:
    name = f"{item.module}::{item.name}"
    signature = preview1_signature(item.name or "") if item.module == WASI_MODULE else None
    if signature is None:
        return [f"it imports {name}, which the host does not provide"]
    declared = item.type
    if not isinstance(declared, wasmtime.FuncType):
        return [f"it imports {name} as something other than a function"]
    params, results = signature
    if _types(declared.params) != _types(params) or _types(declared.results) != _types(results):
        return [
            f"{name} is ({_types(declared.params)}) -> ({_types(declared.results)}); "
            f"the host's is ({_types(params)}) -> ({_types(results)})"
        ]
    return []


def _types(types: list[wasmtime.ValType]) -> str:
    return ", ".join(str(ty) for ty in types)
