"""Per-request resource limits of one sandbox run."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1 << 20


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may use. Defaults are the ABI spec's (abi/README.md)."""

    fuel: int = 500_000_000
    memory_bytes: int = 64 * MiB
    timeout_ms: int = 2_000
    response_bytes: int = 1 * MiB
    log_bytes: int = 64 * 1024
    backend_calls: int = 16
    backend_concurrency: int = 8
    # Host calls that do no I/O (config reads, log lines) cost the guest almost
    # no fuel, so a loop of them is capped here rather than by fuel.
    host_calls: int = 10_000
