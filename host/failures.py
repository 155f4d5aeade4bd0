"""Failure classes: every request that does not end in a script response ends in one."""

from __future__ import annotations

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


# Substrings of wasmtime trap messages, checked in order.
_TRAP_SIGNATURES: tuple[tuple[str, FailureClass, str], ...] = (
    ("all fuel consumed", FailureClass.FUEL_EXHAUSTED, "the script used all its fuel (CPU quota)"),
    ("wasm trap: interrupt", FailureClass.TIMEOUT, "the script ran past its wall-clock deadline"),
    ("call stack exhausted", FailureClass.STACK_OVERFLOW, "the script exhausted the wasm stack"),
)

# Imports a script has no access to: SDK builds stub them with traps, so a
# trap whose backtrace passes through them is an attempt to use them.
_FORBIDDEN_CAPABILITIES: tuple[tuple[str, str], ...] = (
    ("filesystem", "the filesystem"),
    ("preopens", "the filesystem"),
    ("sockets", "network sockets"),
    ("tcp", "network sockets"),
    ("udp", "network sockets"),
    ("ip_name_lookup", "network sockets"),
)


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
    lowered = trap_text.lower()
    for needle, what in _FORBIDDEN_CAPABILITIES:
        if f"!{needle}" in lowered or f"{needle}_" in lowered:
            return FailureClass.ABI_VIOLATION, f"scripts have no access to {what}"
    return FailureClass.GUEST_ERROR, f"the script trapped: {trap_summary(trap_text)}"


def trap_summary(trap_text: str) -> str:
    """The one line of a trap message that says what happened."""
    for line in reversed(trap_text.splitlines()):
        line = line.strip()
        if line.startswith(("wasm trap:", "unknown import")):
            return line
    lines = [line.strip() for line in trap_text.splitlines() if line.strip()]
    return lines[-1] if lines else "unknown trap"
