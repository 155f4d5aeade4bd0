"""Bulk byte-list conversion gives what wasmtime-py's element-wise conversion gives."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys

import pytest
from wasmtime import _ffi as ffi

from host.build import REPO_ROOT
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


def test_a_sandbox_installs_it_before_running_components() -> None:
    # In a fresh interpreter, so nothing else in this session installed it first.
    check = (
        "from wasmtime.component import _types\n"
        "from host.sandbox import Sandbox, SandboxEngine, _byte_lists\n"
        "before = _types.ListType.convert_to_c is _byte_lists._lower\n"
        "engine = SandboxEngine()\n"
        "Sandbox(engine, workers=1).close()\n"
        "print(before, _types.ListType.convert_to_c is _byte_lists._lower)\n"
        "engine.close()\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", check], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    assert completed.stdout.split() == ["False", "True"]


def test_only_bytes_are_accepted_for_a_byte_list() -> None:
    with pytest.raises(TypeError, match="expected bytes"):
        byte_lists._lower(byte_lists._ByteListType(), None, [1, 2, 3], None)
