"""Failure classes and how wasmtime traps map onto them.

The expected statuses are read from the ABI spec (abi/README.md), and the
traps are real ones: small modules made to trap by wasmtime itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import wasmtime

from host.build import REPO_ROOT
from host.failures import FailureClass, classify_trap
from host.sandbox import SandboxEngine

SPEC = REPO_ROOT / "abi" / "README.md"


def spec_failure_statuses() -> dict[str, int]:
    """The `class | cause | HTTP status` table of the spec's Failures section."""
    section = SPEC.read_text().split("\n## Failures\n", 1)[1].split("\n## ", 1)[0]
    table = section.split("| class | cause | HTTP status |", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \|.*\| (\d{3}) \|$", table, re.MULTILINE)
    return {name: int(status) for name, status in rows}


def test_every_class_has_the_status_the_spec_gives_it() -> None:
    documented = spec_failure_statuses()
    assert len(documented) == 8
    assert {failure.value: failure.http_status for failure in FailureClass} == documented


@pytest.fixture(scope="module")
def engine() -> Iterator[wasmtime.Engine]:
    sandbox_engine = SandboxEngine()
    yield sandbox_engine.engine
    sandbox_engine.close()


def trap_of(engine: wasmtime.Engine, wat: str, *, fuel: int = 10**9, ticks: int = 10**6) -> str:
    """What wasmtime says when `wat`'s exported `run` stops (the engine's ticker runs)."""
    store = wasmtime.Store(engine)
    store.set_fuel(fuel)
    store.set_epoch_deadline(ticks)
    module = wasmtime.Module(engine, wat)
    try:
        instance = wasmtime.Linker(engine).instantiate(store, module)
        run = instance.exports(store)["run"]
        assert isinstance(run, wasmtime.Func)
        run(store)
    except (wasmtime.Trap, wasmtime.WasmtimeError) as stopped:
        return str(stopped)
    raise AssertionError("the module did not trap")


LOOP = '(module (func (export "run") (loop br 0)))'


@pytest.mark.parametrize(
    ("wat", "limits", "failure"),
    [
        (LOOP, {"fuel": 1_000}, FailureClass.FUEL_EXHAUSTED),
        (LOOP, {"ticks": 1}, FailureClass.TIMEOUT),
        ('(module (func $f (export "run") (call $f)))', {}, FailureClass.STACK_OVERFLOW),
        ('(module (func (export "run") unreachable))', {}, FailureClass.GUEST_ERROR),
        (
            '(module (import "env" "open_socket" (func)) (func (export "run")))',
            {},
            FailureClass.ABI_VIOLATION,
        ),
        # SDK builds stub the filesystem and sockets with traps; a trap whose
        # backtrace passes through such a stub is an attempt to use them.
        (
            "(module $libc.so (func $filesystem_preopens_get_directories unreachable)"
            ' (func (export "run") (call $filesystem_preopens_get_directories)))',
            {},
            FailureClass.ABI_VIOLATION,
        ),
        (
            "(module $libc.so (func $tcp_connect unreachable)"
            ' (func (export "run") (call $tcp_connect)))',
            {},
            FailureClass.ABI_VIOLATION,
        ),
        (
            "(module $libc.so (func $wall_clock_now unreachable)"
            ' (func (export "run") (call $wall_clock_now)))',
            {},
            FailureClass.ABI_VIOLATION,
        ),
        (
            "(module $libc.so (func $random_get_random_bytes unreachable)"
            ' (func (export "run") (call $random_get_random_bytes)))',
            {},
            FailureClass.ABI_VIOLATION,
        ),
        # Python's own `random` module is the script's business, not WASI's.
        (
            "(module $libpython3.14.so (func $random_random unreachable)"
            ' (func (export "run") (call $random_random)))',
            {},
            FailureClass.GUEST_ERROR,
        ),
    ],
    ids=[
        "fuel",
        "epoch",
        "recursion",
        "unreachable",
        "unknown-import",
        "filesystem",
        "socket",
        "clock",
        "random-bytes",
        "python-random",
    ],
)
def test_real_traps_are_classified(
    engine: wasmtime.Engine, wat: str, limits: dict[str, int], failure: FailureClass
) -> None:
    trap = trap_of(engine, wat, **limits)
    assert classify_trap(trap)[0] is failure, trap
