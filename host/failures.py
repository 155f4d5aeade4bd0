"""Failure classes: every request that does not end in a script response ends in one."""

from __future__ import annotations

import re
from enum import StrEnum


class FailureClass(StrEnum):
    FUEL_EXHAUSTED = "fuel_exhausted"
    MEMORY_EXCEEDED = "memory_exceeded"
    TIMEOUT = "timeout"
    STACK_OVERFLOW = "stack_overflow"
    GUEST_ERROR = "guest_error"
    OUTPUT_EXCEEDED = "output_exceeded"
    ABI_VIOLATION = "abi_violation"
    HOST_ERROR = "host_error"

    @property
    def http_status(self) -> int:
        return _HTTP_STATUS[self]


_HTTP_STATUS: dict[FailureClass, int] = {
    FailureClass.GUEST_ERROR: 500,
    FailureClass.STACK_OVERFLOW: 500,
    FailureClass.HOST_ERROR: 500,
    FailureClass.ABI_VIOLATION: 502,
    FailureClass.OUTPUT_EXCEEDED: 502,
    FailureClass.FUEL_EXHAUSTED: 503,
    FailureClass.MEMORY_EXCEEDED: 503,
    FailureClass.TIMEOUT: 504,
}


class SandboxAbort(Exception):
    """Raised inside a host function to stop the guest with a known failure class.

    wasmtime turns an exception in a host function into a trap and re-raises it
    from the guest call, so the class survives the trip through the guest.
    """

    def __init__(self, failure: FailureClass, message: str) -> None:
        super().__init__(message)
        self.failure = failure
        self.message = message


# What a guest's call fails with when the host stops it at its wall-clock
# deadline (host.sandbox._deadline).
DEADLINE_MESSAGE = "the run reached its wall-clock deadline"
# Substrings of wasmtime trap messages, checked in order.
_TRAP_SIGNATURES: tuple[tuple[str, FailureClass, str], ...] = (
    ("all fuel consumed", FailureClass.FUEL_EXHAUSTED, "the script used all its fuel (CPU quota)"),
    ("wasm trap: interrupt", FailureClass.TIMEOUT, "the script ran past its wall-clock deadline"),
    (DEADLINE_MESSAGE, FailureClass.TIMEOUT, "the script ran past its wall-clock deadline"),
    ("call stack exhausted", FailureClass.STACK_OVERFLOW, "the script exhausted the wasm stack"),
)

# WASI a script has no access to: SDK builds stub it with traps, so a trap
# whose backtrace passes through one of these bindings (wasi-libc names them
# <interface>_<function>) is an attempt to use it.
_WASI_ATTEMPTS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("filesystem_", "preopens_"), "use the filesystem", "files"),
    (
        ("tcp_", "udp_", "ip_name_lookup_", "network_", "instance_network_"),
        "open a network connection",
        "the network",
    ),
    (("wall_clock_", "monotonic_clock_"), "read the clock", "a clock"),
    (("random_get_", "random_insecure", "insecure_seed"), "get random bytes", "randomness"),
    (("environment_",), "read its environment", "an environment"),
    (("exit_",), "exit the process", "a process to exit"),
)
_FRAME = re.compile(r"^\s*\d+:\s+0x[0-9a-fA-F]+ - [^!]*!(?P<function>\S+)")


def classify_trap(trap_text: str) -> tuple[FailureClass, str]:
    """Name the failure behind a wasmtime trap message (backtrace included)."""
    if "unknown import" in trap_text:
        return (
            FailureClass.ABI_VIOLATION,
            f"imports what the host does not provide: {trap_summary(trap_text)}",
        )
    for needle, failure, message in _TRAP_SIGNATURES:
        if needle in trap_text:
            return failure, message
    attempt = _wasi_attempt(trap_text)
    if attempt is not None:
        return FailureClass.ABI_VIOLATION, attempt
    return FailureClass.GUEST_ERROR, f"the script trapped: {trap_summary(trap_text)}"


def _wasi_attempt(trap_text: str) -> str | None:
    """What the script tried, if the trap came from a stubbed WASI function."""
    for line in trap_text.splitlines():
        frame = _FRAME.match(line)
        if frame is None:
            continue
        function = frame["function"]
        for prefixes, action, capability in _WASI_ATTEMPTS:
            if function.startswith(prefixes):
                return (
                    f"the script tried to {action} ({function}); "
                    f"scripts have no access to {capability}"
                )
    return None


def trap_summary(trap_text: str) -> str:
    """The one line of a trap message that says what happened."""
    for line in reversed(trap_text.splitlines()):
        line = line.strip()
        if line.startswith(("wasm trap:", "unknown import")):
            return line
    lines = [line.strip() for line in trap_text.splitlines() if line.strip()]
    return lines[-1] if lines else "unknown trap"
