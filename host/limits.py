"""Per-request resource limits of one sandbox run, and how quota overrides apply."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from host.quota_spec import quota

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may use. Defaults are the ABI spec's (abi/README.md)."""

    fuel: int = quota(500_000_000, "fuel (wasm instructions, roughly) per request", at_most=10**15)
    # wasm32 linear memory ends at 4 GiB; below 64 KiB not one page fits.
    memory_bytes: int = quota(
        64 * MiB,
        "linear memory per request",
        at_least=64 * KiB,
        at_most=4 * GiB,
        flag="memory-mb",
        unit=MiB,
    )
    timeout_ms: int = quota(2_000, "wall-clock time per request", at_most=300_000)
    response_bytes: int = quota(
        1 * MiB,
        "response size per request, headers and body",
        at_least=0,
        at_most=64 * MiB,
        flag="response-kb",
        unit=KiB,
    )
    log_bytes: int = quota(
        64 * KiB,
        "log and stdout/stderr bytes per request",
        at_least=0,
        at_most=16 * MiB,
        flag="log-kb",
        unit=KiB,
    )
    backend_calls: int = quota(16, "backend calls per request", at_least=0, at_most=10_000)
    # The gateway's connection pool holds 256.
    backend_concurrency: int = quota(8, "backend calls in flight per request", at_most=256)
    # Requests one instance may serve before it is thrown away; 1 (the
    # default) is a fresh instance per request. Never across versions.
    reuse: int = quota(
        1, "requests one instance may serve; 1: a fresh instance each", at_most=1_000_000
    )

    def with_overrides(self, overrides: Mapping[str, int]) -> Limits:
        """These limits with the quota overrides that name one of them applied."""
        known = {f.name for f in dataclasses.fields(self)}
        return dataclasses.replace(
            self, **{name: int(value) for name, value in overrides.items() if name in known}
        )
