"""The imports a Python module makes, found without running it.

Used twice with the same rules: by the bundler on the author's machine (which
modules go into a bundle, which imports cannot be met) and by the Python
runtime when a bundle is deployed (every import must be met by the bundle or
by a module the runtime already holds). Pure Python: it runs on the host and
inside the runtime.
"""

from __future__ import annotations

import ast
import operator
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

# Exceptions whose handler makes the imports of a `try` body optional.
_IMPORT_FAILURES = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
# Names whose tests make the imports below an `if` depend on the interpreter.
_ENVIRONMENT_NAMES = frozenset({"version_info", "platform", "implementation"})


@dataclass(frozen=True)
class ImportRef:
    """One imported module, as an absolute dotted name."""

    module: str
    line: int
    # Under `try: ... except ImportError` or a platform test: may be absent.
    optional: bool = False
    # `from module import a, b`: a and b may be submodules.
    names: tuple[str, ...] = ()


class RelativeImportError(ValueError):
    """A relative import that climbs above the top-level package."""


def imports_of(
    tree: ast.Module,
    module_name: str,
    is_package: bool,
    filename: str,
    python: tuple[int, ...] = sys.version_info[:3],
) -> list[ImportRef]:
    """Every import in `tree` that can run on Python `python`, relative ones resolved.

    Imports under `if TYPE_CHECKING:` never run, and of `if sys.version_info
    ...:` only the branch `python` takes does.
    """
    package = module_name if is_package else module_name.rpartition(".")[0]
    return [
        ref
        for node, optional in _Walk(python).imports(tree.body, False)
        for ref in _refs(node, package, optional, filename)
    ]


@dataclass(frozen=True)
class _Walk:
    python: tuple[int, ...]

    def imports(self, body: Sequence[ast.stmt], optional: bool) -> Iterator[tuple[ast.stmt, bool]]:
        for node in body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                yield node, optional
            elif isinstance(node, ast.Try | ast.TryStar):
                guarded = optional or any(_catches_import_failure(h) for h in node.handlers)
                yield from self.imports(node.body, guarded)
                for handler in node.handlers:
                    yield from self.imports(handler.body, optional)
                yield from self.imports(node.orelse, optional)
                yield from self.imports(node.finalbody, optional)
            elif isinstance(node, ast.If):
                yield from self._branches(node, optional)
            else:
                yield from self.imports(_child_statements(node), optional)

    def _branches(self, node: ast.If, optional: bool) -> Iterator[tuple[ast.stmt, bool]]:
        taken = _version_test(node.test, self.python)
        if _is_type_checking(node.test):
            taken = False
        if taken is None:
            conditional = optional or _depends_on_environment(node.test)
            yield from self.imports(node.body, conditional)
            yield from self.imports(node.orelse, conditional)
        else:
            yield from self.imports(node.body if taken else node.orelse, optional)


def _child_statements(node: ast.AST) -> list[ast.stmt]:
    # Bodies of functions, classes, loops, `with` and `match` cases.
    found: list[ast.stmt] = []
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.stmt):
            found.append(child)
        elif not isinstance(child, ast.expr):
            found.extend(_child_statements(child))
    return found


def _catches_import_failure(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    kinds = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(kind, ast.Name) and kind.id in _IMPORT_FAILURES for kind in kinds)


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


_COMPARISONS: dict[type[ast.cmpop], Callable[[tuple[int, ...], tuple[int, ...]], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}


def _version_test(test: ast.expr, python: tuple[int, ...]) -> bool | None:
    """The value of `sys.version_info[:n] <op> (a, b, ...)` on `python`; None for other tests."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return None
    left, (op,), (right,) = test.left, test.ops, test.comparators
    version = python
    if isinstance(left, ast.Subscript) and isinstance(left.slice, ast.Slice):
        upper = left.slice.upper
        if not (isinstance(upper, ast.Constant) and isinstance(upper.value, int)):
            return None
        version, left = python[: upper.value], left.value
    is_version_info = isinstance(left, ast.Attribute) and left.attr == "version_info"
    compare = _COMPARISONS.get(type(op))
    if not (is_version_info and compare and isinstance(right, ast.Tuple)):
        return None
    wanted = [e.value for e in right.elts if isinstance(e, ast.Constant)]
    numbers = tuple(n for n in wanted if isinstance(n, int))
    if len(numbers) != len(right.elts):
        return None
    return compare(version, numbers)


def _depends_on_environment(test: ast.expr) -> bool:
    """`if sys.platform == ...:` and the like: the imports below may not run."""
    names = {
        node.id if isinstance(node, ast.Name) else node.attr
        for node in ast.walk(test)
        if isinstance(node, ast.Name | ast.Attribute)
    }
    return bool(names & _ENVIRONMENT_NAMES)


def _refs(node: ast.stmt, package: str, optional: bool, filename: str) -> Iterable[ImportRef]:
    if isinstance(node, ast.Import):
        return [ImportRef(alias.name, node.lineno, optional) for alias in node.names]
    assert isinstance(node, ast.ImportFrom)
    names = tuple(alias.name for alias in node.names if alias.name != "*")
    if node.level == 0:
        assert node.module is not None
        return [ImportRef(node.module, node.lineno, optional, names)]
    base = _relative_base(package, node.level, filename, node.lineno)
    module = f"{base}.{node.module}" if node.module else base
    return [ImportRef(module, node.lineno, optional, names)]


def _relative_base(package: str, level: int, filename: str, line: int) -> str:
    parts = package.split(".") if package else []
    if level > len(parts):
        raise RelativeImportError(
            f"{filename}, line {line}: attempted relative import beyond the top-level package"
        )
    return ".".join(parts[: len(parts) - level + 1])


def parents_and_self(module: str) -> list[str]:
    """`a.b.c` -> [`a`, `a.b`, `a.b.c`]: importing it imports each of them."""
    parts = module.split(".")
    return [".".join(parts[: index + 1]) for index in range(len(parts))]


def unmet_imports(
    refs: Iterable[tuple[str, ImportRef]], available: Callable[[str], bool]
) -> list[str]:
    """`file, line N: no module named 'x' ...` for each required import not `available`."""
    problems: list[str] = []
    for filename, ref in refs:
        if ref.optional:
            continue
        missing = next((name for name in parents_and_self(ref.module) if not available(name)), None)
        if missing is not None:
            problems.append(f"{filename}, line {ref.line}: no module named {missing!r}")
    return problems
