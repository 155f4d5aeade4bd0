"""Calls across a component's boundary with its types read once per component, not every call.

wasmtime-py's `Func.__call__` asks the C API for the function's type on every
call, and its converters ask again for every record's fields, every list's
element and every variant's cases while they lower and lift: about a fifth
of the Python the host ran per request for a hello script was this type
introspection. A plan reads a function's type once, into a tree of the same
wasmtime-py types with those answers fixed, so each call runs only
wasmtime-py's own conversion code over values. The C API's types are the
component's, not a store's or an instance's: one plan serves every instance
of the component.

The same holds the other way, for the guest's calls of host functions
(`add_planned_func`): wasmtime-py's trampoline reads the import's type, and
its converters every nested type, on every call. Here each import's type is
read at the component's first call of it and kept with the component's plans.
"""

from __future__ import annotations

import ctypes
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from ctypes import byref, pointer
from dataclasses import dataclass
from typing import Any

import wasmtime
from wasmtime import _ffi as ffi
from wasmtime import component as wc
from wasmtime.component import _linker
from wasmtime.component import _types as types
from wasmtime.component._enter import catch_exceptions, enter_wasm

ValType = types.ValType
Case = tuple[str, ValType | None]


class _List(types.ListType):
    def __init__(self, element: ValType) -> None:
        self._element = element
        self._bytes = isinstance(element, types.U8)

    @property
    def element(self) -> ValType:
        return self._element

    def _is_bytes(self) -> bool:
        return self._bytes


class _Record(types.RecordType):
    def __init__(self, fields: list[tuple[str, ValType]]) -> None:
        self._fields = fields

    @property
    def fields(self) -> list[tuple[str, ValType]]:
        return self._fields


class _Tuple(types.TupleType):
    def __init__(self, elements: list[ValType]) -> None:
        self._elements = elements

    @property
    def elements(self) -> list[ValType]:
        return self._elements


class _Flags(types.FlagsType):
    def __init__(self, names: list[str]) -> None:
        self._names = names

    @property
    def names(self) -> list[str]:
        return self._names


class _FixedCases(types.VariantLikeType):
    """A variant-like type whose cases, and whether values carry their tag, are known."""

    def _fix(self, cases: list[Case]) -> None:
        self._fixed_cases = cases
        self._is_tagged = super()._tagged()

    def _cases(self) -> list[Case]:
        return self._fixed_cases

    def _tagged(self) -> bool:
        return self._is_tagged


class _Variant(_FixedCases, types.VariantType):
    def __init__(self, cases: list[Case]) -> None:
        self._fix(cases)

    @property
    def cases(self) -> list[Case]:
        return self._fixed_cases


class _Option(_FixedCases, types.OptionType):
    def __init__(self, payload: ValType) -> None:
        self._payload = payload
        self._fix([("none", None), ("some", payload)])

    @property
    def payload(self) -> ValType:
        return self._payload


class _Result(_FixedCases, types.ResultType):
    def __init__(self, ok: ValType | None, err: ValType | None) -> None:
        self._ok, self._err = ok, err
        self._fix([("ok", ok), ("err", err)])

    @property
    def ok(self) -> ValType | None:
        return self._ok

    @property
    def err(self) -> ValType | None:
        return self._err


def fixed(ty: ValType) -> ValType:
    """`ty` with every answer about its structure read now, once."""
    if isinstance(ty, types.ListType):
        return _List(fixed(ty.element))
    if isinstance(ty, types.RecordType):
        return _Record([(name, fixed(field)) for name, field in ty.fields])
    if isinstance(ty, types.TupleType):
        return _Tuple([fixed(element) for element in ty.elements])
    if isinstance(ty, types.VariantType):
        return _Variant([(name, _maybe_fixed(case)) for name, case in ty.cases])
    if isinstance(ty, types.OptionType):
        return _Option(fixed(ty.payload))
    if isinstance(ty, types.ResultType):
        return _Result(_maybe_fixed(ty.ok), _maybe_fixed(ty.err))
    if isinstance(ty, types.FlagsType):
        return _Flags(ty.names)
    # Scalars, strings and enums convert without asking their type anything.
    return ty


def _maybe_fixed(ty: ValType | None) -> ValType | None:
    return None if ty is None else fixed(ty)


class FuncPlan:
    """How to call one export: its parameter and result types, fixed."""

    def __init__(self, func_type: types.FuncType) -> None:
        self.params = [fixed(ty) for _, ty in func_type.params]
        result = func_type.result
        self.result = None if result is None else fixed(result)

    def call(self, func: wc.Func, store: wasmtime.Store, *params: Any) -> Any:
        """What `func(store, *params)` does, with this plan's types."""
        if len(params) != len(self.params):
            raise TypeError(f"{len(params)} parameters given, {len(self.params)} expected")
        lowered = (ffi.wasmtime_component_val_t * len(params))()
        count = 0
        try:
            for ty, value in zip(self.params, params, strict=True):
                ty.convert_to_c(store, value, pointer(lowered[count]))
                count += 1
            result = ffi.wasmtime_component_val_t() if self.result is not None else None

            def run() -> ctypes._Pointer[ffi.wasmtime_error_t]:
                return ffi.wasmtime_component_func_call(
                    byref(func._func),
                    store._context(),
                    lowered,
                    count,
                    None if result is None else byref(result),
                    0 if result is None else 1,
                )

            enter_wasm(run)
            if result is None or self.result is None:
                return None
            return self.result.convert_from_c(result)
        finally:
            for index in range(count):
                ffi.wasmtime_component_val_delete(byref(lowered[index]))


@dataclass(frozen=True, slots=True)
class Export:
    """A function export of a component: where instances keep it, and how to call it."""

    index: wc.ExportIndex
    plan: FuncPlan


class ImportPlans:
    """How one component calls the host's functions: each import's plan, made at its first call."""

    def __init__(self) -> None:
        self._by_function: dict[int, FuncPlan] = {}
        # How many were ever made: each import the component calls, once.
        self.built = 0

    def plan(self, function: int, func_type: Any) -> FuncPlan:
        """The plan of host function `function`, its C API type `func_type` read if not yet."""
        plan = self._by_function.get(function)
        if plan is None:
            plan = self._by_function[function] = _plan_of_import(func_type)
            self.built += 1
        return plan


class Plans:
    """The exports and imports of each component, read on first use and kept while it is."""

    def __init__(self, engine: wasmtime.Engine) -> None:
        self._engine = engine
        self._exports: weakref.WeakKeyDictionary[wc.Component, dict[str, Export]] = (
            weakref.WeakKeyDictionary()
        )
        self._imports: weakref.WeakKeyDictionary[wc.Component, ImportPlans] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()
        # How many plans were ever built: each export of each component once.
        self.built = 0

    def export(self, component: wc.Component, name: str) -> Export | None:
        """Function export `name` of `component`, or None when it has no such function."""
        found = self._exports.get(component, {}).get(name)
        if found is not None:
            return found
        with self._lock:
            by_name = self._exports.setdefault(component, {})
            if name not in by_name:
                index = component.get_export_index(name)
                item = component.type.exports(self._engine).get(name)
                if index is None or item is None or not isinstance(item.ty, wc.FuncType):
                    return None
                by_name[name] = Export(index, FuncPlan(item.ty))
                self.built += 1
            return by_name[name]

    def imports(self, component: wc.Component) -> ImportPlans:
        """Where the plans of `component`'s calls of host functions are kept."""
        found = self._imports.get(component)
        if found is None:
            with self._lock:
                found = self._imports.setdefault(component, ImportPlans())
        return found

    @contextmanager
    def calls_from(self, component: wc.Component) -> Iterator[None]:
        """Host functions this thread runs meanwhile are called by `component`."""
        previous = getattr(_calling, "imports", None)
        _calling.imports = self.imports(component)
        try:
            yield
        finally:
            _calling.imports = previous


# Whose calls a sandbox thread serves: the C callback is only told the function and its type.
_calling = threading.local()

HostFunc = Callable[..., Any]
CallbackT = Any  # a ffi.wasmtime_component_func_callback_t


def add_planned_func(instance: wc.LinkerInstance, name: str, func: HostFunc) -> None:
    """`instance.add_func(name, func)`, the guest's values converted by the caller's plan.

    Called outside `Plans.calls_from`, the import's type is read for that call
    alone, as wasmtime-py does. Either way wasmtime-py's converters check each
    value's kind (and each record field's name) as they lift, and wasmtime
    checks the result against the import's type as it lowers it.
    """
    define_func(instance, name, _call_planned, func)


def define_func(instance: wc.LinkerInstance, name: str, callback: CallbackT, data: Any) -> None:
    """Define `name` on `instance` as the C callback `callback`, which is handed `data`."""
    name_bytes = name.encode()
    index = _linker.FUNCTIONS.allocate(data)
    error = ffi.wasmtime_component_linker_instance_add_func(
        instance.ptr(),
        ctypes.create_string_buffer(name_bytes),
        len(name_bytes),
        callback,
        index,
        _linker.func_finalize,
    )
    if error:
        raise wasmtime.WasmtimeError._from_ptr(error)


def _plan_of_import(func_type: Any) -> FuncPlan:
    # The type belongs to wasmtime for the call; an owner keeps it from being freed here.
    with types.FuncType._from_ptr(func_type, owner=func_type) as read:
        return FuncPlan(read)


@ffi.wasmtime_component_func_callback_t  # type: ignore[untyped-decorator]
def _call_planned(
    index: int | None,
    context: Any,
    func_type: Any,
    args: Any,
    nargs: int,
    results: Any,
    nresults: int,
) -> int:
    def run(store: wasmtime.StoreContext) -> None:
        function = index or 0
        imports: ImportPlans | None = getattr(_calling, "imports", None)
        plan = _plan_of_import(func_type) if imports is None else imports.plan(function, func_type)
        if nargs != len(plan.params) or nresults != (plan.result is not None):
            raise _not_its_type(TypeError(f"{nargs} values for {len(plan.params)} parameters"))
        func = _linker.FUNCTIONS.get(function)
        assert func is not None, "defined by add_planned_func"
        try:
            params = [ty.convert_from_c(args[i]) for i, ty in enumerate(plan.params)]
        except Exception as error:
            raise _not_its_type(error) from None
        returned = func(store, *params)
        if plan.result is not None:
            try:
                plan.result.convert_to_c(store, returned, results)
            except Exception as error:
                raise _not_its_type(error) from None

    return int(catch_exceptions(context, run))


def _not_its_type(error: Exception) -> wasmtime.WasmtimeError:
    # A WasmtimeError traps the guest with this message; any other exception
    # wasmtime-py would keep in its one process-wide slot, for whichever
    # thread's guest call fails next to raise.
    return wasmtime.WasmtimeError(f"a host call's values do not fit its type: {error!r}")
