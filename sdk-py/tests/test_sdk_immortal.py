"""The build's half of `_immortal`, on components made byte by byte.

The guest's half, and the two together, run in tests/sandbox/test_runtimes.py.
"""

import struct
from array import array

import pytest
from scripthost_sdk._immortal import (
    IMMORTAL_INITIAL_REFCNT,
    Immortalized,
    NoObjectTable,
    immortalize,
    table_of,
)
from scripthost_sdk._wasm_data import WasmFormatError
from wasm_bytes import component, data_section, module

TYPE = 0x2000  # where the objects' type would be
STATIC = 7 << 28  # how CPython starts a static object's count


def head(refcount: int) -> bytes:
    return struct.pack("<II", refcount, TYPE)


def read_u32(binary: bytearray, needle: bytes, offset: int = 0) -> int:
    value: int = struct.unpack_from("<I", binary, binary.index(needle) + offset)[0]
    return value


def test_each_listed_object_is_made_immortal_in_place() -> None:
    objects = head(3) + b"A" * 8 + head(1) + b"B" * 8 + head(STATIC) + head(0)
    table = table_of(array("I", [0x100, 0x110, 0x120, 0x128]))
    binary = component(module(data_section((0x100, objects), (0x4000, table))))
    size = len(binary)

    assert immortalize(binary) == Immortalized(objects=2, already=1, skipped=1)

    assert len(binary) == size
    assert read_u32(binary, b"A" * 8, -8) == IMMORTAL_INITIAL_REFCNT
    assert read_u32(binary, b"B" * 8, -8) == IMMORTAL_INITIAL_REFCNT
    assert read_u32(binary, b"B" * 8, 8) == STATIC, "an immortal object is left as it is"
    assert read_u32(binary, b"B" * 8, 16) == 0, "no object's count is made up"


def test_the_table_is_found_across_segments_with_zeros_between() -> None:
    table = table_of(array("I", [0x100]))
    cut = len(table) - 2  # the last address's two high bytes are zeros: no segment needs them
    binary = component(
        module(data_section((0x100, head(2)), (0x4000, table[:cut]))),
    )
    assert table[cut:] == b"\0\0"
    assert immortalize(binary).objects == 1


def test_a_count_split_between_segments_is_skipped_not_half_written() -> None:
    table = table_of(array("I", [0x100]))
    count_then_type = (0x100, b"\x05\x00"), (0x103, b"\x01" + struct.pack("<I", TYPE))
    binary = component(module(data_section(*count_then_type, (0x4000, table))))
    assert immortalize(binary) == Immortalized(objects=0, already=0, skipped=1)


def test_markers_without_a_table_that_holds_are_not_tables() -> None:
    real = table_of(array("I", [0x100]))
    wrong_sum = bytearray(real)
    wrong_sum[-4] ^= 0x40  # one address changed, its checksum not
    marker_alone = real[:16]
    binary = component(
        module(
            data_section(
                (0x100, head(2)), (0x200, marker_alone), (0x400, bytes(wrong_sum)), (0x800, real)
            )
        )
    )
    assert immortalize(binary).objects == 1


def test_no_table_or_two_tables_is_an_error() -> None:
    table = table_of(array("I", [0x100]))
    with pytest.raises(NoObjectTable, match="0 tables"):
        immortalize(component(module(data_section((0x100, head(2))))))
    with pytest.raises(NoObjectTable, match="2 tables"):
        immortalize(
            component(module(data_section((0x100, head(2)), (0x400, table), (0x800, table))))
        )


def test_overlapping_segments_are_refused() -> None:
    with pytest.raises(WasmFormatError, match="overlap"):
        immortalize(component(module(data_section((0x100, b"x" * 16), (0x108, b"y" * 16)))))
