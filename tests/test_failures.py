"""Failure classes and how wasmtime traps map onto them."""

from __future__ import annotations

import pytest

from host.failures import FailureClass, classify_trap


@pytest.mark.parametrize(
    ("trap", "failure"),
    [
        (
            "error while executing\n\nCaused by:\n    wasm trap: all fuel consumed by WebAssembly",
            FailureClass.FUEL_EXHAUSTED,
        ),
        ("error while executing\nCaused by:\n    wasm trap: interrupt", FailureClass.TIMEOUT),
        ("wasm trap: call stack exhausted", FailureClass.STACK_OVERFLOW),
        (
            "0: 0xab34bd - libc.so!filesystem_preopens_get_directories\n"
            "wasm trap: wasm `unreachable` instruction executed",
            FailureClass.ABI_VIOLATION,
        ),
        ("unknown import: `env::open_socket` has not been defined", FailureClass.ABI_VIOLATION),
        ("wasm trap: wasm `unreachable` instruction executed", FailureClass.GUEST_ERROR),
    ],
)
def test_traps_are_classified(trap: str, failure: FailureClass) -> None:
    assert classify_trap(trap)[0] is failure


def test_every_class_has_its_documented_status() -> None:
    assert {failure.value: failure.http_status for failure in FailureClass} == {
        "fuel_exhausted": 503,
        "memory_exceeded": 503,
        "timeout": 504,
        "stack_overflow": 500,
        "guest_error": 500,
        "output_exceeded": 502,
        "abi_violation": 502,
        "host_error": 500,
    }
