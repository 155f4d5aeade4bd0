"""Which version serves a request: the stable one, the canary, or a device class's pin.

I/O-free. The route table compiles an endpoint's traffic policy into a
`TrafficPlan` once per refresh (`plan_for`); the device path asks `choose`
once per request, with the request's headers and id, and gets a `Selection`.
An endpoint without a policy has no plan, and `choose(None, ...)` costs one
comparison.

How a request is placed:

1. Device-class rules, in order: the first rule whose header has one of its
   values (compared case-insensitively, surrounding spaces ignored) pins the
   version. Rules are few (`MAX_RULES`) and none may shadow another
   (`rule_conflict`), so their order only matters between different headers.
2. Otherwise the split: a keyed hash of the sticky header's value (the
   device id), or of the request id when a device sends none, gives a bucket
   out of `BUCKETS`; the first `percent` of the buckets get the candidate.
   The hash is keyed by the endpoint and the candidate, so one device sees
   one version for the whole canary (raising the percentage only adds
   devices), while each canary samples its own devices.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from registry import ClassRule, Traffic, VersionId

BUCKETS = 10_000
"""Split granularity: a percentage has at most two decimals."""
MAX_RULES = 8
MAX_RULE_VALUES = 16
# Credentials, and what the host sets itself: never a device's class or id.
UNUSABLE_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "remote-addr", "host", "content-length"}
)


class Arm(StrEnum):
    """How a request reached its version; the canary analysis compares the split's two arms."""

    STABLE = "stable"
    CANDIDATE = "candidate"
    PINNED = "pinned"


@dataclass(frozen=True, slots=True)
class Selection:
    version: VersionId
    arm: Arm
    # The canary run a split's choice belongs to: what the analysis counts it under.
    canary_id: str | None = None


class HeaderLookup(Protocol):
    """A request's headers, looked up by lower-case name (Quart's Headers, or a dict)."""

    def get(self, key: str, /) -> str | None: ...


@dataclass(frozen=True, slots=True)
class PlannedRule:
    header: str
    values: frozenset[str]
    selection: Selection


@dataclass(frozen=True, slots=True)
class TrafficPlan:
    stable: Selection
    candidate: Selection | None
    # Buckets below this go to the candidate.
    threshold: int
    salt: bytes
    sticky_header: str
    rules: tuple[PlannedRule, ...]
    canary_id: str | None

    @property
    def versions(self) -> frozenset[VersionId]:
        """Every version the plan may choose: each must be loaded before it is published."""
        chosen = [self.stable, *(rule.selection for rule in self.rules)]
        if self.candidate is not None:
            chosen.append(self.candidate)
        return frozenset(selection.version for selection in chosen)


def plan_for(traffic: Traffic, active: VersionId) -> TrafficPlan | None:
    """The plan for an endpoint whose active version is `active`; None: everyone gets it."""
    policy = traffic.policy
    candidate = policy.candidate if policy.candidate != active else None
    if candidate is None and not policy.rules:
        return None
    canary_id = traffic.canary_id if candidate is not None else None
    return TrafficPlan(
        stable=Selection(active, Arm.STABLE, canary_id),
        candidate=None if candidate is None else Selection(candidate, Arm.CANDIDATE, canary_id),
        threshold=0 if candidate is None else buckets_for(policy.percent),
        salt=_salt(traffic.namespace, traffic.path, candidate),
        sticky_header=policy.sticky_header,
        rules=tuple(
            PlannedRule(
                rule.header,
                frozenset(normalised(value) for value in rule.values),
                Selection(rule.version, Arm.PINNED),
            )
            for rule in policy.rules
        ),
        canary_id=canary_id,
    )


def choose(plan: TrafficPlan | None, headers: HeaderLookup, request_id: str) -> Selection | None:
    """The version for one request; None when the endpoint has no plan (its active version)."""
    if plan is None:
        return None
    for rule in plan.rules:
        value = headers.get(rule.header)
        if value is not None and normalised(value) in rule.values:
            return rule.selection
    if plan.candidate is None:
        return plan.stable
    device = headers.get(plan.sticky_header) or request_id
    if bucket(plan.salt, device) < plan.threshold:
        return plan.candidate
    return plan.stable


def bucket(salt: bytes, device: str) -> int:
    digest = hashlib.blake2b(device.encode(), digest_size=8, key=salt).digest()
    return int.from_bytes(digest, "big") % BUCKETS


def buckets_for(percent: float) -> int:
    return round(percent * BUCKETS / 100)


def normalised(value: str) -> str:
    return value.strip().lower()


def rule_conflict(rules: Sequence[ClassRule]) -> str | None:
    """Why a rule set is refused, or None: a rule no request could reach (an earlier
    rule already takes one of its header values) is a mistake, whatever its version."""
    taken: dict[tuple[str, str], int] = {}
    for number, rule in enumerate(rules, start=1):
        for value in rule.values:
            key = (rule.header, normalised(value))
            earlier = taken.get(key)
            if earlier is not None:
                first = rules[earlier - 1]
                return (
                    f"rule {number} ({describe(rule)}) conflicts with rule {earlier}"
                    f" ({describe(first)}): both match {rule.header}: {key[1]}"
                )
            taken[key] = number
    return None


def describe(rule: ClassRule) -> str:
    return f"{rule.header}: {'|'.join(rule.values)} -> {rule.version}"


def _salt(namespace: str, path: str, candidate: VersionId | None) -> bytes:
    # blake2b keys are at most 64 bytes: hash the identity down to a key.
    identity = f"{namespace}\0{path}\0{candidate or ''}".encode()
    return hashlib.blake2b(identity, digest_size=32).digest()
