"""Packing the snapshot's heap, so that a fresh instance allocates from few pages.

The CPython inside a component allocates every object with wasi-libc's
malloc (dlmalloc). Importing modules at build time frees many small blocks,
scattered over the heap, and the allocator reuses them first: each object a
fresh instance made landed on a page of its own, and every first write to a
page of the snapshot costs the host a copy-on-write page fault (measured: 12
objects of one size on 11-12 pages; after packing, on one).

`pack` takes those blocks before the snapshot is made, largest size first (a
block split to serve a smaller size leaves a smaller block, taken later),
until the allocator serves each size from one contiguous run (two neighbours
in a row). What it takes stays taken, in free space the snapshot already
held. The addresses are CPython's object ids: with another allocator `pack`
stops at its budget, and only costs memory.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

# Block sizes from the largest a request commonly makes down to the smallest,
# in dlmalloc's 16-byte steps on wasm32.
_LARGEST_BLOCK = 8192
_STEP = 16
# Header bytes dlmalloc adds to each request on wasm32.
_MALLOC_OVERHEAD = 4
# How many objects `pack` may keep (measured: ~6,600 for the runtime). The
# list is made once at full length: growing it would free blocks as it goes.
_CAPACITY = 32 * 1024
# No one size takes more than this, whatever the allocator does.
_BUDGET_PER_SIZE = 128 * 1024
# What `pack` took: alive as long as the instance.
_taken: list[object] = []


def pack() -> None:
    """Take the heap's scattered free blocks; call once, last before the snapshot."""
    taken: list[object] = [None] * _CAPACITY
    count = 0
    for block in range(_LARGEST_BLOCK, _STEP - 1, -_STEP):
        make = _object_of_block(block)
        previous, neighbours = -1, 0
        for _ in range(max(3, _BUDGET_PER_SIZE // block)):
            if count == _CAPACITY:
                break
            taken[count] = made = make()
            count += 1
            neighbours = neighbours + 1 if id(made) == previous + block else 0
            previous = id(made)
            if neighbours == 2:
                break
    _taken.append(taken)


def _object_of_block(block: int) -> Callable[[], object]:
    if block == _STEP:
        return object  # the smallest object there is
    length = block - sys.getsizeof(b"") - _MALLOC_OVERHEAD
    return lambda: bytes(length)
