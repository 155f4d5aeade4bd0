"""How a quota is declared: one dataclass field whose metadata says everything about it.

    fuel: int = quota(500_000_000, "fuel per request", at_most=10**15)

gives the field's default, and its `QuotaSpec`: the description (API and CLI
help), the range every override must fall in (checked when an admin sets
it, so a value the sandbox cannot hold, such as 2**64 fuel, never reaches
it), and the CLI flag with its unit (`--memory-mb` sets `memory_bytes` in
MiB). `quota_specs` reads them back, so the names the API accepts, the CLI's
options and the checks all come from the declaration.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

_SPEC = "scripthost.quota"


@dataclass(frozen=True, slots=True)
class QuotaSpec:
    name: str
    description: str
    at_least: int
    at_most: int
    flag: str
    unit: int = 1

    def check(self, value: object) -> int:
        """`value` as this quota's value; ValueError naming the quota and its range if not."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"quota {self.name!r} must be an integer")
        if not self.at_least <= value <= self.at_most:
            raise ValueError(
                f"quota {self.name!r} must be from {self.at_least} to {self.at_most}, got {value}"
            )
        return value


def quota(
    default: int,
    description: str,
    *,
    at_least: int = 1,
    at_most: int,
    flag: str | None = None,
    unit: int = 1,
) -> Any:
    """A dataclass field that is a quota; the field's name becomes the quota's name."""
    spec = QuotaSpec("", description, at_least, at_most, flag or "", unit)
    return dataclasses.field(default=default, metadata={_SPEC: spec})


def quota_specs(cls: type[Any]) -> dict[str, QuotaSpec]:
    """The quotas a dataclass declares, by name, in declaration order."""
    return {
        field.name: dataclasses.replace(
            field.metadata[_SPEC],
            name=field.name,
            flag=field.metadata[_SPEC].flag or field.name.replace("_", "-"),
        )
        for field in dataclasses.fields(cls)
        if _SPEC in field.metadata
    }
