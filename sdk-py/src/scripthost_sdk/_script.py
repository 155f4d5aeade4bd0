"""A script bundle in the Python runtime: compiled once at deploy, loaded in each instance.

A bundle's payload is JSON: the entry module's name and every module the
script needs that the runtime does not hold (its own files, pure-Python
packages), each with its source. `prepare` runs when the bundle is deployed:
it compiles every module with the runtime's own CPython (bytecode is specific
to the interpreter that made it), checks that every import is met, and
returns the code objects, marshalled, which the host stores. They cross the
ABI as text, one character per byte (latin-1): turning that back into bytes
is one copy, where decoding base64 cost every instance ~33 K fuel. `load`
runs in each fresh instance: it makes those code objects importable and runs
the entry module, with no parsing or compiling left to do.

Pure Python: the runtime's world passes it what the host hands over; tests
call it directly on the host.
"""

from __future__ import annotations

import ast
import importlib
import importlib.abc
import importlib.machinery
import json
import marshal
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import CodeType, ModuleType
from typing import Any

from scripthost_sdk._imports import RelativeImportError, imports_of, unmet_imports

# The standard library modules the runtime imports when it is built: a script
# bundled for it may import these (and the modules they import), nothing else
# from the standard library. A component build (`--component`) is the way to
# use any other.
RUNTIME_MODULES: tuple[str, ...] = (
    "__future__", "abc", "array", "ast", "base64", "binascii", "bisect", "builtins",
    "calendar", "cmath", "codecs", "collections", "collections.abc", "colorsys", "contextlib",
    "copy", "csv", "dataclasses", "datetime", "decimal", "difflib", "email.utils", "enum",
    "errno", "fnmatch", "fractions", "functools", "graphlib", "gzip", "hashlib", "heapq",
    "hmac", "html", "html.parser", "http", "inspect", "io", "ipaddress", "itertools", "json",
    "keyword", "logging", "math", "numbers", "operator", "os", "pathlib", "pprint", "random",
    "re", "reprlib", "shlex", "stat", "statistics", "string", "struct", "sys", "textwrap",
    "time", "traceback", "types", "typing", "unicodedata", "urllib.parse", "uuid", "warnings",
    "weakref", "xml.etree.ElementTree", "zlib",
)  # fmt: skip

# The CPython inside the runtime (componentize-py 0.25): the bundler reads
# version tests (`if sys.version_info >= ...`) for this version.
RUNTIME_PYTHON = (3, 14, 0)
SDK_PACKAGE = "scripthost_sdk"


class BundleRejected(Exception):
    """The bundle cannot run in this runtime; the message is one line for its author."""


@dataclass(frozen=True)
class BundledModule:
    name: str
    # Where the author's traceback says it is: `home.py`, `helpers/text.py`.
    file: str
    package: bool
    source: str


@dataclass(frozen=True)
class Payload:
    entry: str
    modules: tuple[BundledModule, ...]

    def to_json(self) -> str:
        modules = [vars(module) for module in self.modules]
        return json.dumps({"entry": self.entry, "modules": modules}, separators=(",", ":"))


def read_payload(payload: str) -> Payload:
    try:
        document = json.loads(payload)
        modules = tuple(
            BundledModule(str(m["name"]), str(m["file"]), bool(m["package"]), str(m["source"]))
            for m in document["modules"]
        )
        entry = str(document["entry"])
    except (ValueError, KeyError, TypeError) as error:
        raise BundleRejected(f"not a Python bundle payload: {error}") from None
    if entry not in {module.name for module in modules}:
        raise BundleRejected(f"the bundle does not hold its entry module {entry!r}")
    return Payload(entry, modules)


def prepare(payload: str, available: Callable[[str], bool]) -> str:
    """The bundle's modules compiled and marshalled; BundleRejected if it cannot run here.

    `available(name)`: whether the runtime already holds module `name`.
    """
    bundle = read_payload(payload)
    names = {module.name for module in bundle.modules}
    for module in bundle.modules:
        top = module.name.partition(".")[0]
        if available(top):
            raise BundleRejected(f"{module.file}: rename it, {top!r} is a module of the runtime")
    trees = [(module, parse(module)) for module in bundle.modules]
    refs = []
    for module, tree in trees:
        try:
            refs += [
                (module.file, ref)
                for ref in imports_of(tree, module.name, module.package, module.file)
            ]
        except RelativeImportError as error:
            raise BundleRejected(str(error)) from None
    problems = unmet_imports(refs, lambda name: name in names or available(name))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise BundleRejected(problems[0] + more)
    codes = [
        (module.name, module.file, module.package, compile(tree, module.file, "exec"))
        for module, tree in trees
    ]
    return marshal.dumps((bundle.entry, codes)).decode("latin-1")


def parse(module: BundledModule) -> ast.Module:
    try:
        return ast.parse(module.source, module.file)
    except SyntaxError as error:
        where = f"{error.filename}, line {error.lineno}"
        raise BundleRejected(f"{where}: {type(error).__name__}: {error.msg}") from None


def load(prepared: str) -> ModuleType:
    """Make the prepared modules importable and run the entry module.

    The entry module runs the way `python script.py` runs one, with no import
    machinery and so no `__spec__`: in a fresh instance every Python function
    that runs writes to pages of the runtime's snapshot (reference counts,
    the interpreter's counters), and the machinery's took each instance ~40
    more page faults than the script itself. Only the bundle's other modules
    are imported, by a finder.
    """
    entry, codes = marshal.loads(prepared.encode("latin-1"))
    if len(codes) > 1:
        finder = BundleFinder({name: (file, package, code) for name, file, package, code in codes})
        sys.meta_path.insert(0, finder)
    file, code = next((file, code) for name, file, _, code in codes if name == entry)
    module = ModuleType(entry)
    module.__file__ = file
    sys.modules[entry] = module
    exec(code, module.__dict__)
    return module


def source_lines(payload: str) -> dict[str, list[str]]:
    """file -> its lines, for tracebacks."""
    return {module.file: module.source.splitlines() for module in read_payload(payload).modules}


class BundleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the bundle's modules from their prepared code objects."""

    def __init__(self, modules: dict[str, tuple[str, bool, CodeType]]) -> None:
        self._modules = modules

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        found = self._modules.get(fullname)
        if found is None:
            return None
        file, package, _ = found
        spec = importlib.machinery.ModuleSpec(fullname, self, origin=file, is_package=package)
        spec.has_location = True
        return spec

    def exec_module(self, module: ModuleType) -> None:
        file, _, code = self._modules[module.__name__]
        module.__file__ = file
        exec(code, module.__dict__)

    def create_module(self, spec: Any) -> None:
        return None
