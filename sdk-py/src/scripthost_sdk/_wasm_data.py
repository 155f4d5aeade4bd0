"""The active data segments of a component's core modules, read where they lie in the file.

Just enough of the WebAssembly binary format (core modules and the component
model's layering) to find the bytes a module's memory starts with, so the
build can change them in place. Nothing is decoded that the build does not use.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

_PREAMBLE_BYTES = 8  # magic and version (a component's carries its layer)
_COMPONENT_LAYER = b"\x0d\x00\x01\x00"
_CORE_MODULE_SECTION = 1  # in a component
_NESTED_COMPONENT_SECTION = 4  # in a component
_DATA_SECTION = 11  # in a core module
_END = 0x0B
_GLOBAL_GET = 0x23
_I32_CONST = 0x41
_I64_CONST = 0x42
# add, sub and mul of i32 and i64: what the extended-constant proposal allows.
_EXTENDED_CONSTANT_OPERATORS = frozenset({0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E})


class WasmFormatError(ValueError):
    """The bytes are not the WebAssembly this reader understands."""


@dataclass(frozen=True)
class DataSegment:
    """An active segment at a constant address: `size` bytes at `file_offset` go to `address`."""

    address: int
    file_offset: int
    size: int

    def covers(self, address: int, length: int) -> bool:
        return self.address <= address and address + length <= self.address + self.size

    def file_offset_of(self, address: int) -> int:
        return self.file_offset + address - self.address


def active_data_segments(binary: bytes | bytearray) -> list[DataSegment]:
    """Every active data segment at an `i32.const` address, of every core module in `binary`."""
    if binary[:4] != b"\0asm":
        raise WasmFormatError("not a WebAssembly binary")
    if binary[4:8] == _COMPONENT_LAYER:
        return list(_component_segments(binary, _PREAMBLE_BYTES, len(binary)))
    return list(_module_segments(binary, _PREAMBLE_BYTES, len(binary)))


def _component_segments(binary: bytes | bytearray, start: int, end: int) -> Iterator[DataSegment]:
    for section_id, body, body_end in _sections(binary, start, end):
        if section_id == _CORE_MODULE_SECTION:
            yield from _module_segments(binary, body + _PREAMBLE_BYTES, body_end)
        elif section_id == _NESTED_COMPONENT_SECTION:
            yield from _component_segments(binary, body + _PREAMBLE_BYTES, body_end)


def _module_segments(binary: bytes | bytearray, start: int, end: int) -> Iterator[DataSegment]:
    for section_id, body, _ in _sections(binary, start, end):
        if section_id == _DATA_SECTION:
            yield from _data_section(binary, body)


def _sections(binary: bytes | bytearray, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(id, first byte, end) of each section between `start` and `end`."""
    at = start
    while at < end:
        section_id = binary[at]
        size, body = _unsigned(binary, at + 1)
        if body + size > end:
            raise WasmFormatError(f"section {section_id} at byte {at} runs past its container")
        yield section_id, body, body + size
        at = body + size


def _data_section(binary: bytes | bytearray, at: int) -> Iterator[DataSegment]:
    count, at = _unsigned(binary, at)
    for _ in range(count):
        flags, at = _unsigned(binary, at)
        address: int | None = None
        if flags in (0, 2):  # active: memory 0, or an explicit memory index
            if flags == 2:
                _, at = _unsigned(binary, at)
            address, at = _constant_address(binary, at)
        elif flags != 1:  # 1 is passive: no address
            raise WasmFormatError(f"data segment flags {flags} at byte {at}")
        size, at = _unsigned(binary, at)
        if address is not None:
            yield DataSegment(address, at, size)
        at += size


def _constant_address(binary: bytes | bytearray, at: int) -> tuple[int | None, int]:
    """The segment's address if it is `i32.const N`, else None; and where its bytes start."""
    opcodes: list[int] = []
    value = 0
    while binary[at] != _END:
        opcode = binary[at]
        opcodes.append(opcode)
        if opcode in (_I32_CONST, _I64_CONST):
            value, at = _signed(binary, at + 1)
        elif opcode == _GLOBAL_GET:
            _, at = _unsigned(binary, at + 1)
        elif opcode in _EXTENDED_CONSTANT_OPERATORS:
            at += 1
        else:
            raise WasmFormatError(f"constant expression opcode {opcode:#x} at byte {at}")
    return (value if opcodes == [_I32_CONST] else None), at + 1


def _unsigned(binary: bytes | bytearray, at: int) -> tuple[int, int]:
    value, _, at = _leb128(binary, at)
    return value, at


def _signed(binary: bytes | bytearray, at: int) -> tuple[int, int]:
    value, bits, at = _leb128(binary, at)
    negative = value >> (bits - 1) & 1
    return value - (negative << bits), at


def _leb128(binary: bytes | bytearray, at: int) -> tuple[int, int, int]:
    """The LEB128 number at `at`, unsigned, its width in bits, and where it ends."""
    value = bits = 0
    while True:
        byte = binary[at]
        at += 1
        value |= (byte & 0x7F) << bits
        bits += 7
        if byte < 0x80:
            return value, bits, at
