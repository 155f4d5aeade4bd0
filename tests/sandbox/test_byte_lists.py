"""Bulk byte-list conversion gives what wasmtime-py's element-wise conversion gives."""

from __future__ import annotations

import ctypes
import os

import pytest
from wasmtime import _ffi as ffi

from host.sandbox import _byte_lists as byte_lists


@pytest.mark.parametrize("size", [0, 1, 255, 100_000])
def test_bulk_and_element_wise_conversions_agree(size: int) -> None:
    data = os.urandom(size)
    byte_list = byte_lists._ByteListType()
    bulk, element_wise = ffi.wasmtime_component_val_t(), ffi.wasmtime_component_val_t()
    byte_lists._lower(byte_list, None, data, ctypes.pointer(bulk))
    byte_lists._element_wise_lower(byte_list, None, data, ctypes.pointer(element_wise))
    # Each side lifts what the other lowered.
    assert byte_lists._element_wise_lift(byte_list, bulk) == data
    assert byte_lists._lift(byte_list, element_wise) == data


def test_it_is_installed_once_components_run() -> None:
    from wasmtime.component import _types

    assert byte_lists.install()
    assert _types.ListType.convert_to_c is byte_lists._lower


def test_only_bytes_are_accepted_for_a_byte_list() -> None:
    with pytest.raises(TypeError, match="expected bytes"):
        byte_lists._lower(byte_lists._ByteListType(), None, [1, 2, 3], None)
