"""The snapshot's objects made immortal, so that a request never writes their reference counts.

Every instance starts from the memory snapshot componentize-py takes at build
time, mapped copy-on-write: the first write to a page of it costs the host a
page fault and a copy. CPython writes an object's reference count whenever it
takes or drops a reference, so a request that only reads the snapshot's
modules, functions and constants still writes the pages they lie on
(measured, Python hello: 196 pages written per fresh instance, ~100 with this).
CPython skips the count of an immortal object (PEP 683): on 32-bit builds,
one whose count is at least 2**30.

Two halves, one on each side of the snapshot:

- `record_objects`, in the guest at build time, lists the address of every
  object then alive (the collector's objects and all they refer to) in a
  table behind a marker, and keeps the objects alive.
- `immortalize`, in the build once componentize-py has written the
  component, finds that table in the memory's data segments and sets the
  count of each listed object to CPython's initial immortal value, in place.

An immortal object is never freed: one a request lets go of stays, which an
instance thrown away after its request (or its `reuse` quota) never notices.
The collector never visits them either: the worlds `gc.freeze` them.
"""

from __future__ import annotations

import bisect
import gc
import itertools
import struct
import sys
from array import array
from dataclasses import dataclass

from scripthost_sdk._wasm_data import DataSegment, WasmFormatError, active_data_segments

# Random bytes that start the table; only `record_objects` makes the full table.
_MARKER = bytes.fromhex("9c1e5b7a03d84f62a1e7c5094b3df28e")
_HEADER = struct.Struct("<II")  # count, checksum of the addresses
# CPython 3.14 on wasm32 (Include/refcount.h): immortal from 2**30 on;
# what it gives the objects it makes immortal itself.
IMMORTAL_MINIMUM_REFCNT = 1 << 30
IMMORTAL_INITIAL_REFCNT = 5 << 28
_OBJECT_HEAD = struct.Struct("<II")  # ob_refcnt, ob_type
_ADDRESS_MASK = 0xFFFF_FFFF

# The recorded objects and their table: alive as long as the instance, so
# every address in the table stays the address of the object it was.
_kept: list[object] = []


def record_objects() -> None:
    """List every object alive now for `immortalize`; call once, at build time, before `gc.freeze`.

    Frugal with memory: whatever it allocates and frees stays in the
    snapshot, as bytes of every instance's image.
    """
    gc.collect()  # no garbage in the table: every object listed is kept alive below
    kept: list[object] = []
    addresses = array("I")
    seen = _AddressSet()
    pending = gc.get_objects()
    pending.extend(sys.modules.values())
    while pending:
        obj = pending.pop()
        if seen.add(id(obj)):
            kept.append(obj)
            addresses.append(id(obj))
            pending.extend(gc.get_referents(obj))
    _kept.append(kept)
    _kept.append(table_of(addresses))


class _AddressSet:
    """Addresses seen, a bit each: objects are at least 4-byte aligned."""

    def __init__(self) -> None:
        self._bits = bytearray()

    def add(self, address: int) -> bool:
        """Add `address`; whether it was new."""
        byte, bit = address >> 5, 1 << ((address >> 2) & 7)
        if byte >= len(self._bits):
            self._bits.extend(bytes(byte + 1 - len(self._bits) + (1 << 16)))
        if self._bits[byte] & bit:
            return False
        self._bits[byte] |= bit
        return True


def table_of(addresses: array[int]) -> bytes:
    """The table `immortalize` looks for: the marker, a header, the addresses."""
    header = _HEADER.pack(len(addresses), sum(addresses) & _ADDRESS_MASK)
    return b"".join([_MARKER, header, addresses.tobytes()])


@dataclass(frozen=True)
class Immortalized:
    """What `immortalize` did to the objects its table lists."""

    objects: int  # made immortal
    already: int  # immortal from the start (CPython's static objects)
    skipped: int  # no longer an object's head in the snapshot


class NoObjectTable(WasmFormatError):
    """The component's memory holds no table of `record_objects`, or more than one."""


def immortalize(component: bytearray) -> Immortalized:
    """Make every object `record_objects` listed immortal, in `component` itself."""
    segments = sorted(active_data_segments(component), key=lambda segment: segment.address)
    memory = _Memory(component, segments)
    made = already = skipped = 0
    for address in _find_table(memory):
        refcount, type_address = _OBJECT_HEAD.unpack(memory.read(address, _OBJECT_HEAD.size))
        if refcount >= IMMORTAL_MINIMUM_REFCNT:
            already += 1
        elif refcount and type_address and memory.write_u32(address, IMMORTAL_INITIAL_REFCNT):
            made += 1
        else:
            skipped += 1
    return Immortalized(objects=made, already=already, skipped=skipped)


class _Memory:
    """The initial linear memory, as the component's active data segments lay it out."""

    def __init__(self, component: bytearray, segments: list[DataSegment]) -> None:
        for before, after in itertools.pairwise(segments):
            if after.address < before.address + before.size:
                raise WasmFormatError(f"data segments overlap at address {after.address:#x}")
        self._component = component
        self._segments = segments
        self._addresses = [segment.address for segment in segments]
        self.size = max((segment.address + segment.size for segment in segments), default=0)

    def read(self, address: int, length: int) -> bytes:
        """The `length` bytes at `address`: zeros where no segment puts any."""
        out = bytearray(length)
        index = max(bisect.bisect_right(self._addresses, address) - 1, 0)
        for segment in self._segments[index:]:
            if segment.address >= address + length:
                break
            start = max(address, segment.address)
            end = min(address + length, segment.address + segment.size)
            if start < end:
                at = segment.file_offset_of(start)
                out[start - address : end - address] = self._component[at : at + end - start]
        return bytes(out)

    def write_u32(self, address: int, value: int) -> bool:
        """Write `value` at `address` if one segment holds all four bytes; whether it did."""
        index = bisect.bisect_right(self._addresses, address) - 1
        if index < 0 or not self._segments[index].covers(address, 4):
            return False
        segment = self._segments[index]
        struct.pack_into("<I", self._component, segment.file_offset_of(address), value)
        return True

    def addresses_of(self, needle: bytes) -> list[int]:
        """Where `needle` lies in memory, found within single segments."""
        found = []
        for segment in self._segments:
            end = segment.file_offset + segment.size
            at = self._component.find(needle, segment.file_offset, end)
            while at != -1:
                found.append(segment.address + at - segment.file_offset)
                at = self._component.find(needle, at + 1, end)
        return found


def _find_table(memory: _Memory) -> tuple[int, ...]:
    """The addresses of the one table whose header and checksum hold."""
    tables = [
        table
        for address in memory.addresses_of(_MARKER)
        if (table := _table_at(memory, address + len(_MARKER))) is not None
    ]
    if len(tables) != 1:
        raise NoObjectTable(f"{len(tables)} tables of the snapshot's objects, not 1")
    return tables[0]


def _table_at(memory: _Memory, address: int) -> tuple[int, ...] | None:
    count, checksum = _HEADER.unpack(memory.read(address, _HEADER.size))
    if not 0 < count <= memory.size // 4:  # the marker alone, say: followed by zeros
        return None
    addresses = struct.unpack(f"<{count}I", memory.read(address + _HEADER.size, 4 * count))
    return addresses if sum(addresses) & _ADDRESS_MASK == checksum else None
