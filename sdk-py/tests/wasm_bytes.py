"""WebAssembly binaries made byte by byte, for the tests of what reads them."""

_CORE_VERSION = b"\x01\x00\x00\x00"
_COMPONENT_LAYER = b"\x0d\x00\x01\x00"


def unsigned(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def signed(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        out.append(byte | (0 if done else 0x80))
        if done:
            return bytes(out)


def section(section_id: int, body: bytes) -> bytes:
    return bytes([section_id]) + unsigned(len(body)) + body


def i32_const(address: int) -> bytes:
    return b"\x41" + signed(address) + b"\x0b"


def active(address: int, data: bytes, *, offset: bytes | None = None) -> bytes:
    """An active segment for memory 0 (flags 0), at `i32.const address` unless `offset`."""
    return b"\x00" + (offset or i32_const(address)) + unsigned(len(data)) + data


def passive(data: bytes) -> bytes:
    return b"\x01" + unsigned(len(data)) + data


def data_section(*segments: tuple[int, bytes] | bytes) -> bytes:
    """Segments as (address, data) for active ones, or as already encoded."""
    encoded = [s if isinstance(s, bytes) else active(*s) for s in segments]
    return section(11, unsigned(len(encoded)) + b"".join(encoded))


def module(*sections: bytes) -> bytes:
    return b"\0asm" + _CORE_VERSION + b"".join(sections)


def component(*parts: bytes) -> bytearray:
    """A component of core modules (section 1) and nested components (section 4)."""
    body = b"".join(section(1 if part[4:8] == _CORE_VERSION else 4, part) for part in parts)
    return bytearray(b"\0asm" + _COMPONENT_LAYER + body)
