import pytest
from scripthost_sdk._wasm_data import DataSegment, WasmFormatError, active_data_segments
from wasm_bytes import active, component, data_section, module, passive, section, unsigned


def contents(binary: bytearray, segments: list[DataSegment]) -> list[tuple[int, bytes]]:
    return [(s.address, bytes(binary[s.file_offset : s.file_offset + s.size])) for s in segments]


def test_segments_of_every_module_and_nested_component_where_they_lie() -> None:
    first = module(section(1, b"\x00"), data_section((0x10, b"one"), (0x400, b"two")))
    nested = component(module(data_section((-8 & 0x7FFF_FFFF, b"three"))))
    binary = component(first, bytes(nested))
    assert contents(binary, active_data_segments(binary)) == [
        (0x10, b"one"),
        (0x400, b"two"),
        (0x7FFF_FFF8, b"three"),
    ]


def test_a_core_module_alone_is_read_too() -> None:
    binary = bytearray(module(data_section((0x20, b"core"))))
    assert contents(binary, active_data_segments(binary)) == [(0x20, b"core")]


def test_passive_segments_and_computed_addresses_are_left_out() -> None:
    global_get = b"\x23" + unsigned(0) + b"\x0b"
    extended = b"\x23\x00\x41\x10\x6a\x0b"  # global.get 0; i32.const 16; i32.add
    binary = component(
        module(
            data_section(
                passive(b"later"),
                active(0, b"by global", offset=global_get),
                active(0, b"by sum", offset=extended),
                (0x40, b"kept"),
            )
        )
    )
    assert contents(binary, active_data_segments(binary)) == [(0x40, b"kept")]


@pytest.mark.parametrize(
    ("binary", "problem"),
    [
        (b"\x7fELF\x02\x01\x01\x00", "not a WebAssembly binary"),
        (bytes(component(module(section(11, b"\x01\x00\x44\x00\x0b\x00")))), "opcode 0x44"),
        (bytes(component(module(section(11, b"\x01\x07")))), "flags 7"),
        (bytes(component()) + b"\x01\x7f", "runs past"),
    ],
)
def test_what_it_cannot_read_is_an_error(binary: bytes, problem: str) -> None:
    with pytest.raises(WasmFormatError, match=problem):
        active_data_segments(bytearray(binary))
