"""Quotas: what an endpoint may use, resolved from defaults, namespace and endpoint overrides.

The registry stores overrides as `name -> int` mappings at three layers;
`EndpointQuotas.resolve` applies them over the host's built-in defaults.
Per-request limits go to the sandbox (`Limits`); the rest are enforced by the
host around it: concurrency and requests per second (per endpoint, per host),
instance reuse, and, at deploy time, module size and endpoint count per
namespace.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from host.limits import Limits, MiB

# Quota name -> (description, smallest allowed value).
QUOTA_NAMES: dict[str, tuple[str, int]] = {
    "fuel": ("fuel (wasm instructions, roughly) per request", 1),
    "memory_bytes": ("linear memory per request", 1 << 16),
    "timeout_ms": ("wall-clock time per request", 1),
    "response_bytes": ("response body size", 0),
    "log_bytes": ("log and stdout/stderr bytes per request", 0),
    "backend_calls": ("backend calls per request", 0),
    "backend_concurrency": ("backend calls in flight per request", 1),
    "max_concurrency": ("requests running at once per endpoint and host; 0: no cap", 0),
    "rps": ("requests per second per endpoint and host; 0: no cap", 0),
    "burst": ("requests a burst may take above rps; 0: one second's worth", 0),
    "reuse": ("requests one instance may serve; 1: a fresh instance each", 1),
    "max_module_bytes": ("module size, per upload in the namespace", 1),
    "max_bundle_bytes": ("script bundle size, per upload in the namespace", 1),
    "max_endpoints": ("endpoints per namespace", 1),
}


@dataclass(frozen=True, slots=True)
class EndpointQuotas:
    limits: Limits = field(default_factory=Limits)
    max_concurrency: int = 0
    rps: int = 0
    burst: int = 0
    max_module_bytes: int = 32 * MiB
    # A bundle is evaluated by every fresh instance: its size is per-request work.
    max_bundle_bytes: int = 1 * MiB
    max_endpoints: int = 1000

    def resolve(self, overrides: Mapping[str, int]) -> EndpointQuotas:
        """These quotas with registry overrides applied; unknown names are ignored."""
        own = {f.name for f in dataclasses.fields(self)} - {"limits"}
        return dataclasses.replace(
            self,
            limits=self.limits.with_overrides(overrides),
            **{name: int(value) for name, value in overrides.items() if name in own},
        )

    def as_mapping(self) -> dict[str, int]:
        flat: dict[str, int] = dataclasses.asdict(self.limits)
        flat.update(
            {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "limits"}
        )
        return flat


def check_overrides(overrides: Mapping[str, int]) -> dict[str, int]:
    """Validated overrides; raises ValueError naming the first bad one."""
    checked: dict[str, int] = {}
    for name, value in overrides.items():
        if name not in QUOTA_NAMES:
            raise ValueError(f"unknown quota {name!r}; known: {', '.join(sorted(QUOTA_NAMES))}")
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"quota {name!r} must be an integer")
        smallest = QUOTA_NAMES[name][1]
        if value < smallest:
            raise ValueError(f"quota {name!r} must be at least {smallest}")
        checked[name] = value
    return checked
