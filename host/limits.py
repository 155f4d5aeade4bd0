"""Per-request resource limits of one sandbox run, and how quota overrides apply."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
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
    # Requests one instance may serve before it is thrown away; 1 (the
    # default) is a fresh instance per request. Never across versions.
    reuse: int = 1

    def with_overrides(self, overrides: Mapping[str, int]) -> Limits:
        """These limits with the quota overrides that name one of them applied."""
        known = {f.name for f in dataclasses.fields(self)}
        return dataclasses.replace(
            self, **{name: int(value) for name, value in overrides.items() if name in known}
        )
