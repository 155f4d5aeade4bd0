"""An endpoint's traffic: the canary split, device-class rules, the canary's comparison,
promote and abort. Admins and the endpoint's own team may read and change it."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, ValidationError
from quart_schema import tag, validate_request, validate_response

from host.admin._api import ENDPOINT_ROUTE, admin_api, target
from host.admin._auth import principal, principal_for
from host.admin._inputs import VersionName
from host.admin._versions import resolve_version, two_decimals
from host.canary import AnalysisSettings, elapsed_s, judge, merged
from host.errors import HostError
from host.http_errors import validation_message
from host.state import host_state
from host.traffic import MAX_RULE_VALUES, MAX_RULES, UNUSABLE_HEADERS, normalised, rule_conflict
from registry import CanaryEnd, ClassRule, Registry, Traffic, TrafficPolicy

TRAFFIC_ROUTE = ENDPOINT_ROUTE + "/-/traffic"
MAX_RULE_VALUE_CHARS = 128


class BadTraffic(HostError):
    status = 400
    code = "bad_traffic"


class ConflictingRules(HostError):
    status = 409
    code = "conflicting_rules"


class NoCanary(HostError):
    status = 409
    code = "no_canary"


def _header(name: str) -> str:
    lowered = name.lower()
    if lowered in UNUSABLE_HEADERS:
        raise ValueError(f"{lowered} never reaches a script, so no rule may read it")
    return lowered


def _rule_value(value: str) -> str:
    stripped = normalised(value)
    if not stripped:
        raise ValueError("a rule value is not empty")
    return stripped


HeaderName = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$"), AfterValidator(_header)
]
RuleValue = Annotated[
    str,
    Field(max_length=MAX_RULE_VALUE_CHARS, pattern=r"^[\x20-\x7e]+$"),
    AfterValidator(_rule_value),
]
Percent = Annotated[float, Field(ge=0, le=100), AfterValidator(two_decimals)]


class RuleIn(BaseModel, extra="forbid"):
    """Devices whose `header` has one of `values` (exact, case-insensitive) get `version`."""

    header: HeaderName
    values: list[RuleValue] = Field(min_length=1, max_length=MAX_RULE_VALUES)
    version: VersionName


class TrafficPatch(BaseModel, extra="forbid"):
    """The parts of the traffic policy to change; absent parts stay as they are."""

    candidate: VersionName | None = Field(
        default=None, description="The version (or label) to canary; a new one needs `percent`."
    )
    percent: Percent | None = Field(
        default=None, description="Share of devices the candidate serves, 0-100."
    )
    rules: list[RuleIn] | None = Field(
        default=None,
        max_length=MAX_RULES,
        description="Device-class rules, first match wins; they replace the current ones.",
    )
    sticky_header: HeaderName | None = Field(
        default=None, description="The header whose value keeps a device on one version."
    )
    analysis: dict[str, bool | int | float] | None = Field(
        default=None,
        max_length=16,
        description="Canary analysis settings to change: "
        + ", ".join(AnalysisSettings.model_fields),
    )


class RuleOut(BaseModel):
    header: str
    values: list[str]
    version: str


class TrafficOut(BaseModel):
    namespace: str
    path: str
    stable: str | None
    candidate: str | None
    percent: float
    sticky_header: str
    rules: list[RuleOut]
    analysis: dict[str, Any]
    canary_id: str | None
    canary_started_at: datetime | None
    verdict: dict[str, Any] | None
    updated_at: datetime | None


class EndCanaryIn(BaseModel, extra="forbid"):
    canary_id: str | None = Field(
        default=None,
        max_length=64,
        description="The run to end; refused (409) if another one runs now.",
    )


class CanaryOut(BaseModel):
    running: bool
    canary_id: str | None = None
    stable: str | None = None
    candidate: str | None = None
    percent: float = 0.0
    started_at: datetime | None = None
    hosts: int = 0
    analysis: dict[str, Any] | None = Field(
        default=None, description="The verdict the analysis would give now, with its evidence."
    )
    recorded: dict[str, Any] | None = Field(
        default=None, description="The last verdict recorded on this run (or the last run)."
    )


def traffic_out(traffic: Traffic, stable: str | None) -> TrafficOut:
    policy = traffic.policy
    return TrafficOut(
        namespace=traffic.namespace,
        path=traffic.path,
        stable=stable,
        candidate=policy.candidate,
        percent=policy.percent,
        sticky_header=policy.sticky_header,
        rules=[
            RuleOut(header=rule.header, values=list(rule.values), version=rule.version)
            for rule in policy.rules
        ],
        analysis=AnalysisSettings.stored(dict(policy.analysis)).model_dump(),
        canary_id=traffic.canary_id,
        canary_started_at=traffic.canary_started_at,
        verdict=None if traffic.verdict is None else dict(traffic.verdict),
        updated_at=traffic.updated_at,
    )


@admin_api.get(TRAFFIC_ROUTE)
@tag(["traffic"])
@validate_response(TrafficOut)
async def get_traffic(namespace: str, path: str) -> TrafficOut:
    """The endpoint's stable version, canary split, device-class rules and analysis settings."""
    namespace, path = target(namespace, path)
    principal_for(namespace)
    registry = host_state().registry
    endpoint = await registry.get_endpoint(namespace, path)
    return traffic_out(await registry.get_traffic(namespace, path), endpoint.active_version)


class TrafficList(BaseModel):
    traffic: list[TrafficOut]


@admin_api.get("/traffic")
@tag(["traffic"])
@validate_response(TrafficList)
async def list_traffic() -> TrafficList:
    """The endpoints the caller may see that have a canary or device-class rules."""
    caller = principal()
    registry = host_state().registry
    active = {(e.namespace, e.path): e.active_version for e in await registry.list_endpoints()}
    return TrafficList(
        traffic=[
            traffic_out(traffic, active[key])
            for traffic in await registry.list_traffic()
            if (key := (traffic.namespace, traffic.path)) in active
            and caller.may_touch(traffic.namespace)
            and (traffic.policy.candidate is not None or traffic.policy.rules)
        ]
    )


@admin_api.patch(TRAFFIC_ROUTE)
@tag(["traffic"])
@validate_request(TrafficPatch)
@validate_response(TrafficOut)
async def patch_traffic(namespace: str, path: str, data: TrafficPatch) -> TrafficOut:
    """Change the split, the rules, the sticky header or the analysis settings.

    Every host applies the change within one refresh interval, after loading
    the versions it names. A refused change (unknown version, conflicting
    rules, a candidate that is the stable version) changes nothing.
    """
    namespace, path = target(namespace, path)
    caller = principal_for(namespace)
    state = host_state()
    current = await state.registry.get_traffic(namespace, path)
    wanted = await _patched(state.registry, current, data)
    traffic = await state.registry.set_traffic(namespace, path, wanted, actor=caller.name)
    await state.refresher.poll_once()
    endpoint = await state.registry.get_endpoint(namespace, path)
    return traffic_out(traffic, endpoint.active_version)


async def _patched(registry: Registry, current: Traffic, data: TrafficPatch) -> TrafficPolicy:
    policy = current.policy
    given = data.model_fields_set
    namespace, path = current.namespace, current.path
    changes: dict[str, Any] = {}
    if "candidate" in given:
        if data.candidate is None:
            raise BadTraffic("to drop the candidate, abort its canary: POST .../-/traffic/abort")
        candidate = await resolve_version(registry, namespace, path, data.candidate)
        if candidate != policy.candidate and data.percent is None:
            raise BadTraffic("a new candidate needs a percent")
        changes["candidate"] = candidate
    if "percent" in given:
        if data.percent is None or changes.get("candidate", policy.candidate) is None:
            raise BadTraffic("a percent needs a candidate version")
        changes["percent"] = data.percent
    if "rules" in given:
        changes["rules"] = await _rules(registry, namespace, path, data.rules or [])
    if "sticky_header" in given:
        if data.sticky_header is None:
            raise BadTraffic("sticky_header names a header")
        changes["sticky_header"] = data.sticky_header
    if "analysis" in given:
        changes["analysis"] = _analysis({**policy.analysis, **(data.analysis or {})})
    return dataclasses.replace(policy, **changes)


async def _rules(
    registry: Registry, namespace: str, path: str, rules: list[RuleIn]
) -> tuple[ClassRule, ...]:
    resolved = tuple(
        [
            ClassRule(
                rule.header,
                tuple(dict.fromkeys(rule.values)),
                await resolve_version(registry, namespace, path, rule.version),
            )
            for rule in rules
        ]
    )
    conflict = rule_conflict(resolved)
    if conflict is not None:
        raise ConflictingRules(conflict)
    return resolved


def _analysis(settings: dict[str, Any]) -> dict[str, Any]:
    try:
        AnalysisSettings.model_validate(settings)
    except ValidationError as error:
        raise BadTraffic(f"analysis: {validation_message(error)}") from None
    return settings


@admin_api.post(TRAFFIC_ROUTE + "/promote")
@tag(["traffic"])
@validate_request(EndCanaryIn)
@validate_response(TrafficOut)
async def promote(namespace: str, path: str, data: EndCanaryIn) -> TrafficOut:
    """Make the canary's candidate the stable version; every device gets it."""
    return await _end(namespace, path, data, CanaryEnd.PROMOTED)


@admin_api.post(TRAFFIC_ROUTE + "/abort")
@tag(["traffic"])
@validate_request(EndCanaryIn)
@validate_response(TrafficOut)
async def abort(namespace: str, path: str, data: EndCanaryIn) -> TrafficOut:
    """Stop the canary: every device gets the stable version again (rules stay)."""
    return await _end(namespace, path, data, CanaryEnd.ABORTED)


async def _end(namespace: str, path: str, data: EndCanaryIn, outcome: CanaryEnd) -> TrafficOut:
    namespace, path = target(namespace, path)
    caller = principal_for(namespace)
    state = host_state()
    current = await state.registry.get_traffic(namespace, path)
    if current.canary_id is None:
        raise NoCanary(f"no canary is running on {namespace}{path}")
    traffic = await state.registry.end_canary(
        namespace,
        path,
        canary_id=data.canary_id or current.canary_id,
        outcome=outcome,
        actor=caller.name,
    )
    await state.refresher.poll_once()
    endpoint = await state.registry.get_endpoint(namespace, path)
    return traffic_out(traffic, endpoint.active_version)


@admin_api.get(ENDPOINT_ROUTE + "/-/canary")
@tag(["traffic"])
@validate_response(CanaryOut)
async def canary(namespace: str, path: str) -> CanaryOut:
    """The running canary across the fleet: both versions side by side, the verdict the
    analysis would give now with its evidence, and the last one it recorded."""
    namespace, path = target(namespace, path)
    principal_for(namespace)
    registry = host_state().registry
    endpoint = await registry.get_endpoint(namespace, path)
    traffic = await registry.get_traffic(namespace, path)
    recorded = None if traffic.verdict is None else dict(traffic.verdict)
    if traffic.canary_id is None:
        return CanaryOut(running=False, stable=endpoint.active_version, recorded=recorded)
    settings = AnalysisSettings.stored(dict(traffic.policy.analysis))
    reports = await registry.canary_reports(namespace, path, traffic.canary_id)
    verdict = judge(merged(r.report for r in reports), settings, elapsed_s(traffic))
    return CanaryOut(
        running=True,
        canary_id=traffic.canary_id,
        stable=endpoint.active_version,
        candidate=traffic.policy.candidate,
        percent=traffic.policy.percent,
        started_at=traffic.canary_started_at,
        hosts=len(reports),
        analysis=verdict.document(settings),
        recorded=recorded,
    )
