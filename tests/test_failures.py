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
        (
            "    2: 0xb34000 - libc.so!wall_clock_now\n"
            "    3: 0xb2ac10 - libc.so!__clock_gettime\n"
            "wasm trap: wasm `unreachable` instruction executed",
            FailureClass.ABI_VIOLATION,
        ),
        (
            "    2: 0xb36688 - libc.so!random_get_random_bytes\n"
            "wasm trap: wasm `unreachable` instruction executed",
            FailureClass.ABI_VIOLATION,
        ),
        (
            "    5: 0xf7808f - libpython3.14.so!random_random\n"
            "wasm trap: wasm `unreachable` instruction executed",
            FailureClass.GUEST_ERROR,
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
