"""Naming a version in the API (by its id or a label), and what a deploy or an
activation does to a running canary."""

from __future__ import annotations

import dataclasses
import re

from registry import CanaryEnd, NotFound, Registry, VersionId

_VERSION_ID = re.compile(r"^v[1-9][0-9]{0,17}$")


async def resolve_version(registry: Registry, namespace: str, path: str, name: str) -> VersionId:
    """The id of the version `name` names: `v7`, or a label; NotFound (404) if it names none."""
    if _VERSION_ID.match(name):
        return (await registry.get_version(namespace, path, name)).id
    labels = await registry.labels(namespace, path)
    if name not in labels:
        raise NotFound(f"{namespace}{path} has no version or label {name!r}")
    return labels[name]


def two_decimals(percent: float) -> float:
    if abs(percent * 100 - round(percent * 100)) > 1e-6:
        raise ValueError("a percentage has at most two decimals")
    return percent


async def start_canary(
    registry: Registry, namespace: str, path: str, candidate: VersionId, percent: float, actor: str
) -> None:
    """Make `candidate` the canary at `percent`, keeping the rest of the policy."""
    current = (await registry.get_traffic(namespace, path)).policy
    wanted = dataclasses.replace(current, candidate=candidate, percent=percent)
    await registry.set_traffic(namespace, path, wanted, actor=actor)


async def promote_if_candidate(
    registry: Registry, namespace: str, path: str, version: VersionId, actor: str
) -> bool:
    """Activating a running canary's candidate promotes it; True if it did."""
    current = await registry.get_traffic(namespace, path)
    if current.canary_id is None or current.policy.candidate != version:
        return False
    await registry.end_canary(
        namespace, path, canary_id=current.canary_id, outcome=CanaryEnd.PROMOTED, actor=actor
    )
    return True
