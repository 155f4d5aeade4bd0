"""Component types as WIT-like text, to compare what an upload declares with what the host has.

`func(list<u8>, u64) -> result<_, variant{closed, failed(string)}>`: parameter
names are left out (calls are positional), record fields, variant cases and
enum names are kept in order (they decide the layout). Resources are named
after the import that defines them. Types are a graph a component can make
exponentially large as text, so rendering stops at a budget.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from wasmtime.component import ResourceType
from wasmtime.component import _types as t

# Type nodes one upload's signatures may have in all; the ABI and WASI
# signatures together have a few hundred.
MAX_NODES = 20_000
_MAX_DEPTH = 32

_PRIMITIVES: dict[type, str] = {
    t.Bool: "bool",
    t.S8: "s8",
    t.S16: "s16",
    t.S32: "s32",
    t.S64: "s64",
    t.U8: "u8",
    t.U16: "u16",
    t.U32: "u32",
    t.U64: "u64",
    t.F32: "f32",
    t.F64: "f64",
    t.Char: "char",
    t.String: "string",
}


class TypeTooLarge(ValueError):
    """The component's types are larger or deeper than any script's."""


@dataclass
class Renderer:
    # Resources by name, to name own<...> and borrow<...> handles.
    resources: Sequence[tuple[str, ResourceType]] = ()
    nodes: int = field(default=0)

    def func(self, func: t.FuncType) -> str:
        params = ", ".join(self.value(ty, 0) for _, ty in func.params)
        result = func.result
        return f"func({params})" + ("" if result is None else f" -> {self.value(result, 0)}")

    def value(self, ty: t.ValType, depth: int) -> str:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > _MAX_DEPTH:
            raise TypeTooLarge("the component's types are too large to check")
        primitive = _PRIMITIVES.get(type(ty))
        if primitive is not None:
            return primitive
        return self._compound(ty, depth + 1)

    def _compound(self, ty: t.ValType, depth: int) -> str:
        if isinstance(ty, t.ListType):
            return f"list<{self.value(ty.element, depth)}>"
        if isinstance(ty, t.TupleType):
            return f"tuple<{', '.join(self.value(e, depth) for e in ty.elements)}>"
        if isinstance(ty, t.OptionType):
            return f"option<{self.value(ty.payload, depth)}>"
        if isinstance(ty, t.ResultType):
            return self._result(ty, depth)
        if isinstance(ty, t.RecordType):
            fields = ", ".join(f"{name}: {self.value(f, depth)}" for name, f in ty.fields)
            return f"record{{{fields}}}"
        if isinstance(ty, t.VariantType):
            cases = ", ".join(
                name if payload is None else f"{name}({self.value(payload, depth)})"
                for name, payload in ty.cases
            )
            return f"variant{{{cases}}}"
        if isinstance(ty, t.EnumType):
            return f"enum{{{', '.join(ty.names)}}}"
        if isinstance(ty, t.FlagsType):
            return f"flags{{{', '.join(ty.names)}}}"
        if isinstance(ty, t.OwnType):
            return f"own<{self._resource(ty.ty)}>"
        if isinstance(ty, t.BorrowType):
            return f"borrow<{self._resource(ty.ty)}>"
        return type(ty).__name__.lower()  # future, stream, error-context: nothing the host has

    def _result(self, ty: t.ResultType, depth: int) -> str:
        ok, err = ty.ok, ty.err
        if ok is None and err is None:
            return "result"
        ok_text = "_" if ok is None else self.value(ok, depth)
        return (
            f"result<{ok_text}>" if err is None else f"result<{ok_text}, {self.value(err, depth)}>"
        )

    def _resource(self, resource: ResourceType) -> str:
        for name, known in self.resources:
            if known == resource:
                return name
        return "?"
