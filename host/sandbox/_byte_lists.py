"""Bulk conversion of `list<u8>` (request and response bodies) across wasmtime-py's C API.

wasmtime-py converts a `list<u8>` one element at a time in Python: lowering a
100 KB request body took ~58 ms, more than the script's own work. The C API's
list is an array of tagged values (kind byte, then the payload), so the same
array can be written and read with two strided slice copies instead. This
module replaces the two conversion methods of wasmtime-py's `ListType` for
byte lists only, and only after checking, at import, that the bulk path gives
byte for byte what the element-wise one does; otherwise it leaves wasmtime-py
as it is.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

from wasmtime import _ffi as ffi
from wasmtime.component import _types

_VAL = ffi.wasmtime_component_val_t
_STRIDE = ctypes.sizeof(_VAL)
_KIND_OFFSET = _VAL.kind.offset
_PAYLOAD_OFFSET = _VAL.of.offset
_KIND_U8 = int(ffi.WASMTIME_COMPONENT_U8.value)

_element_wise_lower: Callable[..., None] = _types.ListType.convert_to_c
_element_wise_lift: Callable[..., Any] = _types.ListType.convert_from_c


def _lower(self: Any, store: Any, val: Any, ptr: Any) -> None:
    if not self._is_bytes():
        _element_wise_lower(self, store, val, ptr)
        return
    if not isinstance(val, bytes):
        raise TypeError("expected bytes value")
    raw = ffi.wasmtime_component_vallist_t()
    ffi.wasmtime_component_vallist_new_uninit(raw, len(val))
    if val:
        ctypes.memmove(raw.data, bytes(_tagged(val)), _STRIDE * len(val))
    ptr.contents.kind = ffi.WASMTIME_COMPONENT_LIST
    ptr.contents.of.list = raw


def _lift(self: Any, c: Any) -> Any:
    if not self._is_bytes():
        return _element_wise_lift(self, c)
    try:
        count = int(c.of.list.size)
        if count == 0:
            return b""
        raw = ctypes.string_at(ctypes.cast(c.of.list.data, ctypes.c_void_p), _STRIDE * count)
        if raw[_KIND_OFFSET::_STRIDE] != bytes([_KIND_U8]) * count:
            raise TypeError("a list<u8> holds values that are not u8")
        return raw[_PAYLOAD_OFFSET::_STRIDE]
    finally:
        ffi.wasmtime_component_vallist_delete(ctypes.byref(c.of.list))


def _tagged(data: bytes) -> bytearray:
    values = bytearray(_STRIDE * len(data))
    values[_KIND_OFFSET::_STRIDE] = bytes([_KIND_U8]) * len(data)
    values[_PAYLOAD_OFFSET::_STRIDE] = data
    return values


def _agrees_with_element_wise(list_type: Any) -> bool:
    sample = bytes(range(256)) * 3
    slow, fast = _VAL(), _VAL()
    _element_wise_lower(list_type, None, sample, ctypes.pointer(slow))
    _lower(list_type, None, sample, ctypes.pointer(fast))
    same = ctypes.string_at(ctypes.cast(slow.of.list.data, ctypes.c_void_p), _STRIDE * len(sample))
    bulk = ctypes.string_at(ctypes.cast(fast.of.list.data, ctypes.c_void_p), _STRIDE * len(sample))
    lowered_alike = same[_KIND_OFFSET::_STRIDE] == bulk[_KIND_OFFSET::_STRIDE] and (
        same[_PAYLOAD_OFFSET::_STRIDE] == bulk[_PAYLOAD_OFFSET::_STRIDE]
    )
    lifted = _lift(list_type, fast)
    slow_lifted = _element_wise_lift(list_type, slow)
    return lowered_alike and lifted == slow_lifted == sample


class _ByteListType:
    """Stands in for a `list<u8>` ListType in the check: what the converters use of it."""

    element = _types.U8()

    def _is_bytes(self) -> bool:
        return True


def install() -> bool:
    """Switch to bulk conversion if it agrees with wasmtime-py's own; True if it did."""
    if _types.ListType.convert_to_c is _lower:
        return True
    if not _agrees_with_element_wise(_ByteListType()):
        return False
    _types.ListType.convert_to_c = _lower  # type: ignore[method-assign]
    _types.ListType.convert_from_c = _lift  # type: ignore[method-assign]
    return True
