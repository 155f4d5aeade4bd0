"""Quotas: what an endpoint may use, resolved from defaults, namespace and endpoint overrides.

The registry stores overrides as `name -> int` mappings at three layers;
`EndpointQuotas.resolve` applies them over the host's built-in defaults.
Per-request limits go to the sandbox (`Limits`); the rest are enforced by the
host around it: concurrency and requests per second (per endpoint, per host),
instance reuse, and, at deploy time, module and bundle size and endpoint count per
namespace. Each quota is declared once, as a field (see `host.quota_spec`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from host.limits import GiB, Limits, MiB
from host.quota_spec import QuotaSpec, quota, quota_specs


@dataclass(frozen=True, slots=True)
class EndpointQuotas:
    limits: Limits = field(default_factory=Limits)
    max_concurrency: int = quota(
        0,
        "requests running at once per endpoint and host; 0: no cap",
        at_least=0,
        at_most=100_000,
        flag="concurrency",
    )
    rps: int = quota(
        0, "requests per second per endpoint and host; 0: no cap", at_least=0, at_most=1_000_000
    )
    burst: int = quota(
        0,
        "requests a burst may take above rps; 0: one second's worth",
        at_least=0,
        at_most=1_000_000,
    )
    max_module_bytes: int = quota(
        32 * MiB,
        "module size, per upload in the namespace",
        at_most=1 * GiB,
        flag="module-mb",
        unit=MiB,
    )
    # A bundle is evaluated by every fresh instance: its size is per-request work.
    max_bundle_bytes: int = quota(
        1 * MiB,
        "script bundle size, per upload in the namespace",
        at_most=64 * MiB,
        flag="bundle-kb",
        unit=1024,
    )
    max_endpoints: int = quota(1000, "endpoints per namespace", at_most=1_000_000, flag="endpoints")

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


# Every quota, by name: the per-request ones first.
QUOTAS: dict[str, QuotaSpec] = {**quota_specs(Limits), **quota_specs(EndpointQuotas)}


def check_overrides(overrides: Mapping[str, object]) -> dict[str, int]:
    """Validated overrides; raises ValueError naming the first bad one."""
    checked: dict[str, int] = {}
    for name, value in overrides.items():
        spec = QUOTAS.get(name)
        if spec is None:
            raise ValueError(f"unknown quota {name!r}; known: {', '.join(sorted(QUOTAS))}")
        checked[name] = spec.check(value)
    return checked
