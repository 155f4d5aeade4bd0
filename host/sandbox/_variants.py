"""Lowering variants, options and results from several threads at once.

To choose the case of an untagged value (`result<backend-response,
backend-error>` holds a record or a variant), wasmtime-py fills one module-wide
set with the case's Python classes and tests the value against it. Two sandbox
workers lowering at the same time clear and refill each other's set, so a
backend result could fail to lower ("value not valid for this variant", a 500)
or be taken for the other case. This module replaces that one method with the
same logic on a set of its own, after checking at install that it chooses the
cases wasmtime-py's own does.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

from wasmtime import _ffi as ffi
from wasmtime.component import Variant
from wasmtime.component import _types as _types

_shared_set_lower: Callable[..., Any] = _types.VariantLikeType._lower


def _lower(self: Any, store: Any, val: Any) -> tuple[str, Any]:
    tagged = self._tagged()
    if tagged and not isinstance(val, Variant):
        raise TypeError("expected Variant type")
    for name, ty in self._cases():
        if tagged:
            if name != val.tag:
                continue
        elif ty is None:
            if val is not None:
                continue
        else:
            classes: set[type] = set()
            ty.add_classes(classes)
            if not isinstance(val, tuple(classes)):
                continue
        if ty is None:
            return name, None
        raw = ffi.wasmtime_component_val_t()
        ty.convert_to_c(store, val.payload if tagged else val, ctypes.pointer(raw))
        return name, ffi.wasmtime_component_val_new(ctypes.byref(raw))
    raise ValueError("value not valid for this variant")


class _FlagTextOrNothing(_types.VariantLikeType):
    """Stands in for an untagged two-case type in the check: a bool or text, else nothing."""

    def _cases(self) -> list[tuple[str, Any]]:
        return [("flag", _types.Bool()), ("text", _types.String()), ("nothing", None)]

    def convert_to_c(self, store: Any, val: Any, ptr: Any) -> None:
        raise NotImplementedError  # only _lower is checked

    def convert_from_c(self, c: Any) -> Any:
        raise NotImplementedError


def _chooses_like_wasmtime_py() -> bool:
    sample = _FlagTextOrNothing()
    for value in (True, "x", None):
        ours = _lower(sample, None, value)
        theirs = _shared_set_lower(sample, None, value)
        if ours[0] != theirs[0]:
            return False
        for _, raw in (ours, theirs):
            if raw is not None:
                ffi.wasmtime_component_val_delete(raw)
    return True


def install() -> bool:
    """Lower variants with a set per call if that agrees with wasmtime-py; True if it does."""
    if _types.VariantLikeType._lower is _lower:
        return True
    if not _chooses_like_wasmtime_py():
        return False
    _types.VariantLikeType._lower = _lower  # type: ignore[method-assign]
    return True
