"""Bundle a Python script for the shared Python runtime (`python -m scripthost_sdk.build
home.py --bundle-for python-runtime.wasm -o home.bundle`).

A bundle holds the entry module, the modules next to it that it imports, and
the pure-Python packages it imports from the build's environment, each with
its source, found by reading their imports (nothing is run). The standard
library modules the runtime holds (`RUNTIME_MODULES`) and the SDK stay out:
the runtime has them. An import nothing can meet, a module that is not pure
Python and a syntax error are build errors. The runtime compiles the modules
to its own bytecode once, when the bundle is deployed.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.machinery
import json
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from scripthost_sdk._imports import RelativeImportError, imports_of, parents_and_self
from scripthost_sdk._script import (
    RUNTIME_MODULES,
    RUNTIME_PYTHON,
    SDK_PACKAGE,
    BundledModule,
    Payload,
)

BUNDLE_MAGIC = "SCRIPTHOST-BUNDLE 1"
"""First line of every bundle file, whatever its language (abi/README.md#bundles)."""
SDK_VERSION = "0.1.0"
_RUNTIME_NAMES = frozenset(name for module in RUNTIME_MODULES for name in parents_and_self(module))


class BundleError(Exception):
    """The script cannot be bundled; the message is one line for its author."""


@dataclass(frozen=True)
class Located:
    path: Path
    package: bool
    file: str


@dataclass
class _Collector:
    script_dir: Path
    search_path: list[Path]
    modules: dict[str, BundledModule] = field(default_factory=dict)
    # Package name -> its directory, for finding its submodules.
    package_dirs: dict[str, Path] = field(default_factory=dict)

    def add(self, name: str, found: Located) -> None:
        try:
            source = found.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise BundleError(f"{found.file}: cannot read it: {error}") from None
        self.modules[name] = BundledModule(name, found.file, found.package, source)
        if found.package:
            self.package_dirs[name] = found.path.parent
        tree = _parse(source, found.file)
        try:
            refs = imports_of(tree, name, found.package, found.file, RUNTIME_PYTHON)
        except RelativeImportError as error:
            raise BundleError(str(error)) from None
        for ref in refs:
            for part in parents_and_self(ref.module):
                if not self.provide(part):
                    if ref.optional:
                        break
                    raise BundleError(f"{found.file}, line {ref.line}: {_why_missing(part)}")
            else:
                for member in ref.names:
                    self.provide(f"{ref.module}.{member}")  # a submodule, or just a name

    def provide(self, name: str) -> bool:
        if name in self.modules or _runtime_has(name):
            return True
        found = self.locate(name)
        if found is not None:
            self.add(name, found)
        return found is not None

    def locate(self, name: str) -> Located | None:
        parent, _, leaf = name.rpartition(".")
        if parent:
            directory = self.package_dirs.get(parent)
            return None if directory is None else _in_directory(directory, leaf, directory.parent)
        if leaf in sys.stdlib_module_names:
            return None
        for directory in (self.script_dir, *self.search_path):
            found = _in_directory(directory, leaf, directory)
            if found is not None:
                return found
        return None


def collect(source: Path, search_path: Iterable[Path] | None = None) -> Payload:
    """The payload of `source`'s bundle; BundleError if it cannot be bundled."""
    source = source.resolve()
    search = _site_dirs() if search_path is None else list(search_path)
    collector = _Collector(source.parent, search)
    collector.add(source.stem, Located(source, False, source.name))
    handle_defined = any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Assign | ast.ImportFrom)
        and "handle" in _bound_names(node)
        for node in _parse(collector.modules[source.stem].source, source.name).body
    )
    if not handle_defined:
        raise BundleError(f"{source.name} defines no handle(req) function")
    return Payload(source.stem, tuple(collector.modules.values()))


def write_bundle(source: Path, runtime: Path, out: Path) -> list[str]:
    """Bundle `source` for the runtime component `runtime` into `out`; the files bundled."""
    payload = collect(source)
    files = [module.file for module in payload.modules]
    header = {"runtime": runtime_id(runtime.read_bytes()), "entry": source.name, "files": files}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(f"{BUNDLE_MAGIC}\n{json.dumps(header)}\n{payload.to_json()}", encoding="utf-8")
    return files


def runtime_id(runtime: bytes) -> dict[str, str]:
    """How a bundle names its runtime: what it is, and exactly which bytes."""
    wit = (Path(__file__).parent / "wit" / "world.wit").read_text(encoding="utf-8")
    abi = re.search(r"^package scripthost:abi@([0-9.]+);", wit, re.MULTILINE)
    assert abi is not None
    sha256 = hashlib.sha256(runtime).hexdigest()
    return {"language": "python", "sdk": SDK_VERSION, "abi": abi.group(1), "sha256": sha256}


def _runtime_has(name: str) -> bool:
    return name in _RUNTIME_NAMES or name == SDK_PACKAGE or name.startswith(SDK_PACKAGE + ".")


def _why_missing(name: str) -> str:
    if name.partition(".")[0] in sys.stdlib_module_names:
        return (
            f"the Python runtime has no module {name!r} (it holds the standard library "
            "modules listed in the SDK guide; build a component with --component to use others)"
        )
    return f"no module named {name!r}"


def _in_directory(directory: Path, leaf: str, root: Path) -> Located | None:
    package = directory / leaf / "__init__.py"
    if package.is_file():
        return Located(package, True, package.relative_to(root).as_posix())
    module = directory / f"{leaf}.py"
    if module.is_file():
        return Located(module, False, module.relative_to(root).as_posix())
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        if (directory / f"{leaf}{suffix}").is_file():
            raise BundleError(f"{leaf}{suffix} is not pure Python; a bundle cannot hold it")
    return None


def _site_dirs() -> list[Path]:
    """Where the build's environment finds packages, without the standard library."""
    stdlib = Path(os.__file__).resolve().parent
    found: list[Path] = []
    for entry in sys.path:
        if not entry:
            continue  # the current directory is not where packages come from
        path = Path(entry).resolve()
        in_stdlib = path == stdlib or (stdlib in path.parents and "site-packages" not in path.parts)
        if path.is_dir() and not in_stdlib:
            found.append(path)
    return found


def _parse(source: str, file: str) -> ast.Module:
    try:
        return ast.parse(source, file)
    except SyntaxError as error:
        raise BundleError(f"{file}, line {error.lineno}: SyntaxError: {error.msg}") from None


def _bound_names(node: ast.stmt) -> set[str]:
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return {node.name}
    if isinstance(node, ast.ImportFrom):
        return {alias.asname or alias.name for alias in node.names}
    assert isinstance(node, ast.Assign)
    return {target.id for target in node.targets if isinstance(target, ast.Name)}
