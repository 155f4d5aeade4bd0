"""What a module is made of, read from its sections before anything compiles it.

Compile time and compile memory grow with the number of functions (a 4 MB
module of a million empty functions takes a minute and 6 GB to compile),
so uploads are measured first and refused when they are larger than any
script needs. Only section headers and counts are read; wasmtime validates
everything else when it compiles.
"""

from __future__ import annotations

from dataclasses import dataclass

from host.sandbox._errors import InvalidModule, ModuleRejected

# SDK builds have about 13,000 functions; this leaves room for big scripts.
MAX_FUNCTIONS = 100_000
_MAX_NESTING = 8

_CORE_MODULE_SECTION = 1
_CORE_INSTANCE_SECTION = 2
_COMPONENT_SECTION = 4
_FUNCTION_SECTION = 3
_TABLE_SECTION = 4
_MEMORY_SECTION = 5
_PREAMBLE_BYTES = 8
_INSTANTIATE = 0x00


@dataclass(slots=True)
class ModuleShape:
    functions: int = 0
    tables: int = 0
    memories: int = 0
    # Core module instantiations a component performs (1 for a core module).
    instances: int = 0


class _Reader:
    def __init__(self, data: bytes, start: int, end: int) -> None:
        self.data = data
        self.at = start
        self.end = end

    def byte(self) -> int:
        if self.at >= self.end:
            raise InvalidModule("not a valid WebAssembly binary (truncated)")
        value = self.data[self.at]
        self.at += 1
        return value

    def u32(self) -> int:
        result = shift = 0
        while True:
            byte = self.byte()
            result |= (byte & 0x7F) << shift
            if byte < 0x80:
                return result
            shift += 7
            if shift > 35:
                raise InvalidModule("not a valid WebAssembly binary (bad integer)")

    def skip(self, count: int) -> None:
        if self.at + count > self.end:
            raise InvalidModule("not a valid WebAssembly binary (truncated)")
        self.at += count

    def sections(self) -> list[tuple[int, int, int]]:
        """(id, start, end) of every section from here to the end."""
        found = []
        while self.at < self.end:
            section = self.byte()
            size = self.u32()
            start = self.at
            self.skip(size)
            found.append((section, start, self.at))
        return found


def shape_of(wasm: bytes) -> ModuleShape:
    """Count the functions, tables, memories and instances of a core module or component."""
    shape = ModuleShape()
    if wasm[4:8] == b"\x01\x00\x00\x00":
        shape.instances = 1
        _core(wasm, 0, len(wasm), shape)
    else:
        _component(wasm, 0, len(wasm), shape, depth=0)
    return shape


def check_shape(
    shape: ModuleShape, *, max_memories: int, max_tables: int, max_instances: int
) -> None:
    """Refuse what no script needs and what the sandbox would refuse at every request."""
    problems = []
    if shape.functions > MAX_FUNCTIONS:
        problems.append(f"{shape.functions} functions (at most {MAX_FUNCTIONS})")
    if shape.memories > max_memories:
        problems.append(f"{shape.memories} linear memories (at most {max_memories})")
    if shape.tables > max_tables:
        problems.append(f"{shape.tables} tables (at most {max_tables})")
    if shape.instances > max_instances:
        problems.append(f"{shape.instances} core instances (at most {max_instances})")
    if problems:
        raise ModuleRejected("the module is larger than a script may be: " + ", ".join(problems))


def _core(wasm: bytes, start: int, end: int, shape: ModuleShape) -> None:
    reader = _Reader(wasm, start, end)
    reader.skip(_PREAMBLE_BYTES)
    for section, body, body_end in reader.sections():
        if section in (_FUNCTION_SECTION, _TABLE_SECTION, _MEMORY_SECTION):
            count = _Reader(wasm, body, body_end).u32()
            if section == _FUNCTION_SECTION:
                shape.functions += count
            elif section == _TABLE_SECTION:
                shape.tables += count
            else:
                shape.memories += count


def _component(wasm: bytes, start: int, end: int, shape: ModuleShape, depth: int) -> None:
    if depth > _MAX_NESTING:
        raise ModuleRejected(f"components nest more than {_MAX_NESTING} deep")
    reader = _Reader(wasm, start, end)
    reader.skip(_PREAMBLE_BYTES)
    for section, body, body_end in reader.sections():
        if section == _CORE_MODULE_SECTION:
            _core(wasm, body, body_end, shape)
        elif section == _COMPONENT_SECTION:
            _component(wasm, body, body_end, shape, depth + 1)
        elif section == _CORE_INSTANCE_SECTION:
            shape.instances += _instantiations(_Reader(wasm, body, body_end))


def _instantiations(reader: _Reader) -> int:
    count = 0
    for _ in range(reader.u32()):
        if reader.byte() == _INSTANTIATE:
            count += 1
            reader.u32()  # the module
        # Then the instantiation's arguments, or the exports of an instance
        # put together from other items (which creates nothing): each a
        # name, a one-byte sort and an index.
        for _ in range(reader.u32()):
            reader.skip(reader.u32())
            reader.skip(1)
            reader.u32()
    return count
