"""Change control as every implementation stores it: traffic policies, labels, build records
and canary reports, checked and encoded once, so all backends refuse and store the same things.

The registry checks shape and size (what it must be able to store and read
back); what a policy means, and which policies make sense, is the host's
(`host.traffic`, `host.canary`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from registry import _checks
from registry.errors import Conflict, NotFound
from registry.models import (
    Action,
    BuildRecord,
    CanaryEnd,
    ClassRule,
    Details,
    Traffic,
    TrafficPolicy,
    VersionId,
)

MAX_POLICY_BYTES = 64 * 1024
MAX_VERDICT_BYTES = 256 * 1024
MAX_REPORT_BYTES = 256 * 1024
MAX_BUILD_INFO_BYTES = 64 * 1024
MAX_BUILD_FILES_BYTES = 4 * 1024 * 1024
_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9._-]{0,63}$")
_VERSION_LIKE = re.compile(r"^v[0-9]+$")


def version_numbers(policy: TrafficPolicy) -> set[int]:
    """Every version a policy names (each must be one of its endpoint's)."""
    named = [rule.version for rule in policy.rules]
    if policy.candidate is not None:
        named.append(policy.candidate)
    return {_checks.version_number(version) for version in named}


def policy(value: TrafficPolicy) -> tuple[TrafficPolicy, str]:
    """The policy, checked, and its canonical encoding."""
    if not isinstance(value, TrafficPolicy):
        raise ValueError("a traffic policy is a TrafficPolicy")
    percent = value.percent
    if isinstance(percent, bool) or not isinstance(percent, int | float):
        raise ValueError("percent must be a number")
    if not (math.isfinite(percent) and 0 <= percent <= 100):
        raise ValueError(f"percent must be from 0 to 100, got {percent!r}")
    if value.candidate is None and percent:
        raise ValueError("a percentage needs a candidate version")
    _checks.name(value.sticky_header, "sticky_header")
    for rule in value.rules:
        _checks.name(rule.header, "a rule's header")
        if not rule.values or not all(isinstance(v, str) and v for v in rule.values):
            raise ValueError("a rule matches one or more non-empty header values")
    version_numbers(value)
    encoded = _bounded_json(_policy_document(value), MAX_POLICY_BYTES, "a traffic policy")
    return decode_policy(encoded), encoded


def _policy_document(value: TrafficPolicy) -> dict[str, Any]:
    return {
        "candidate": value.candidate,
        "percent": float(value.percent),
        "rules": [
            {"header": rule.header, "values": list(rule.values), "version": rule.version}
            for rule in value.rules
        ],
        "sticky_header": value.sticky_header,
        "analysis": dict(value.analysis),
    }


def decode_policy(encoded: str) -> TrafficPolicy:
    document = json.loads(encoded)
    return TrafficPolicy(
        candidate=document["candidate"],
        percent=float(document["percent"]),
        rules=tuple(
            ClassRule(rule["header"], tuple(rule["values"]), rule["version"])
            for rule in document["rules"]
        ),
        sticky_header=document["sticky_header"],
        analysis=document["analysis"],
    )


def details_of(value: Mapping[str, object] | None, what: str, limit: int) -> str | None:
    """A JSON object, checked and encoded; None stays None."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError(f"{what} is a JSON object")
    return _bounded_json(dict(value), limit, what)


def decoded(encoded: str | None) -> dict[str, Any] | None:
    return None if encoded is None else dict(json.loads(encoded))


def traffic_details(wanted: TrafficPolicy, previous: TrafficPolicy) -> dict[str, object]:
    """What the audit log records of a traffic change: the policy before and after."""
    return {"policy": _policy_document(wanted), "previous": _policy_document(previous)}


def no_traffic(namespace: str, path: str) -> Traffic:
    return Traffic(namespace=namespace, path=path)


TRAFFIC_COLUMNS = (
    "namespace",
    "path",
    "policy",
    "canary_id",
    "canary_started_at",
    "verdict",
    "updated_at",
)


def stored_traffic(
    namespace: str,
    path: str,
    policy: str,
    canary_id: str | None,
    canary_started_at: str | None,
    verdict: str | None,
    updated_at: str,
) -> Traffic:
    """A Traffic from its stored columns."""
    return Traffic(
        namespace=namespace,
        path=path,
        policy=decode_policy(policy),
        canary_id=canary_id,
        canary_started_at=None
        if canary_started_at is None
        else datetime.fromisoformat(canary_started_at),
        verdict=decoded(verdict),
        updated_at=datetime.fromisoformat(updated_at),
    )


def encoded_verdict(traffic: Traffic) -> str | None:
    return details_of(traffic.verdict, "a verdict", MAX_VERDICT_BYTES)


CanaryRun = tuple[str | None, str | None, str | None]
"""canary_id, its start (ISO 8601) and its verdict (JSON), as stored."""


def canary_run(current: Traffic, wanted: TrafficPolicy, active: VersionId | None) -> CanaryRun:
    """The canary run `wanted` leads to: none, the current one, or a new one."""
    candidate = wanted.candidate
    kept_verdict = None if current.verdict is None else _encode(dict(current.verdict))
    if candidate is None:
        return None, None, kept_verdict
    if active is None:
        raise Conflict("a candidate needs an active (stable) version to compare with")
    if candidate == active:
        raise Conflict(f"{candidate} is the active version, not a candidate")
    if candidate == current.policy.candidate and current.canary_id is not None:
        started = current.canary_started_at
        return current.canary_id, None if started is None else started.isoformat(), kept_verdict
    return uuid.uuid4().hex, _checks.stamp(), None


@dataclass(frozen=True, slots=True)
class TrafficChange:
    """What setting a policy writes: its canary run, whose reports go, the event's details."""

    run: CanaryRun
    dropped_run: str | None
    details: Details


def traffic_change(
    current: Traffic, wanted: TrafficPolicy, active: VersionId | None
) -> TrafficChange | None:
    """What replacing the current policy with `wanted` does; None if it is the same policy."""
    if current.policy == wanted:
        return None
    run = canary_run(current, wanted, active)
    replaced = current.canary_id is not None and run[0] != current.canary_id
    dropped = current.canary_id if replaced else None
    return TrafficChange(run, dropped, traffic_details(wanted, current.policy))


@dataclass(frozen=True, slots=True)
class CanaryEnding:
    """What ending a canary run writes: the version promoted (if any), the policy left, the
    verdict kept, and the event's details."""

    promoted: int | None
    policy: str
    verdict: str | None
    details: Details


def canary_ending(
    current: Traffic,
    canary_id: str,
    outcome: CanaryEnd,
    verdict: str | None,
    stable: VersionId | None,
) -> CanaryEnding:
    """Ending run `canary_id` of `current`; Conflict unless it is the running one."""
    check_running(current, canary_id)
    candidate = current.policy.candidate
    assert candidate is not None
    promoted = _checks.version_number(candidate) if outcome is CanaryEnd.PROMOTED else None
    _, policy_left = policy(without_candidate(current.policy))
    kept = verdict if verdict is not None else encoded_verdict(current)
    return CanaryEnding(promoted, policy_left, kept, end_details(current, stable, verdict))


def label_change(
    namespace: str, path: str, label: str, current: VersionId | None, wanted: VersionId | None
) -> tuple[Action, Details] | None:
    """The event that moving `label` from `current` to `wanted` records; None if it stays.

    Removing a label the endpoint does not have is NotFound.
    """
    if wanted is None:
        if current is None:
            raise NotFound(f"{namespace}{path} has no label {label!r}")
        return Action.VERSION_UNLABELLED, {"label": label, "previous": current}
    if current == wanted:
        return None
    return Action.VERSION_LABELLED, {"label": label, "version": wanted, "previous": current}


def check_running(current: Traffic, canary_id: str) -> None:
    if current.canary_id != canary_id:
        running = current.canary_id or "no canary"
        raise Conflict(
            f"canary {canary_id} is not running on {current.namespace}{current.path}"
            f" (running: {running})"
        )


def without_candidate(policy: TrafficPolicy) -> TrafficPolicy:
    return dataclasses.replace(policy, candidate=None, percent=0.0)


def end_details(
    current: Traffic, stable: VersionId | None, verdict: str | None
) -> dict[str, object]:
    """What the audit log records of a canary's end: the run, both versions, the verdict."""
    return {
        "canary_id": current.canary_id,
        "candidate": current.policy.candidate,
        "percent": current.policy.percent,
        "stable": stable,
        "verdict": decoded(verdict),
    }


def label(value: str) -> str:
    if not isinstance(value, str) or not _LABEL.match(value) or _VERSION_LIKE.match(value):
        raise ValueError(
            "a label is 1-64 letters, digits or '._-', starting with a letter,"
            f" and does not look like a version id; got {value!r}"
        )
    return value


def reporter(value: str) -> str:
    return _checks.name(value, "reporter")


def canary_id(value: str) -> str:
    return _checks.name(value, "canary_id")


def canary_end(
    run: str, outcome: CanaryEnd, actor: str, verdict: Mapping[str, object] | None
) -> tuple[CanaryEnd, str | None]:
    """An end_canary request, checked: its outcome and the verdict's encoding."""
    canary_id(run)
    _checks.actor(actor)
    return CanaryEnd(outcome), details_of(verdict, "a verdict", MAX_VERDICT_BYTES)


def build(record: BuildRecord | None) -> tuple[str, str] | None:
    """A build record's info and files, checked and encoded; None stays None."""
    if record is None:
        return None
    if not isinstance(record, BuildRecord):
        raise ValueError("a build record is a BuildRecord")
    for path, text in record.files.items():
        if not isinstance(path, str) or not path or not isinstance(text, str):
            raise ValueError("a build's files map non-empty paths to text")
    info = _bounded_json(dict(record.info), MAX_BUILD_INFO_BYTES, "a build's info")
    files = _bounded_json(dict(record.files), MAX_BUILD_FILES_BYTES, "a build's files")
    return info, files


def build_record(info: str, files: str | None) -> BuildRecord:
    return BuildRecord(info=json.loads(info), files=json.loads(files) if files else {})


def verdict_changed(stored: str | None, wanted: Details) -> bool:
    return stored is None or json.loads(stored) != dict(wanted)


def version_id_of(number: int | None) -> VersionId | None:
    return None if number is None else _checks.version_id(number)


def _encode(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)


def _bounded_json(value: object, limit: int, what: str) -> str:
    try:
        encoded = _encode(value)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{what} must be JSON: {error}") from None
    if len(encoded.encode()) > limit:
        raise ValueError(f"{what} is at most {limit} bytes of JSON")
    return encoded
