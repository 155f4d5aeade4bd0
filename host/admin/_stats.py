"""The stats API the console draws from: recent traffic, deploys and failures."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from quart_schema import tag, validate_response

from host.admin._api import AuditOut, admin_api, audit_out
from host.admin._auth import principal
from host.observe import WINDOW_SECONDS
from host.processes import gather_siblings
from host.state import HostState, host_state

_DEPLOY_ACTIONS = {
    "version.added",
    "version.activated",
    "endpoint.created",
    "endpoint.deleted",
    "traffic.set",
    "canary.promoted",
    "canary.aborted",
    "canary.rolled_back",
}


class Point(BaseModel):
    requests: float
    errors: float
    max_ms: float


class EndpointStats(BaseModel):
    namespace: str
    path: str
    requests: int
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    error_rate: float
    outcomes: dict[str, int]
    fuel_p50: float | None
    fuel_p99: float | None
    memory_p50: float | None
    memory_p99: float | None
    breaker: str
    series: list[Point]


class TraceOut(BaseModel):
    call: str
    detail: str
    result: str
    duration_ms: float


class FailureOut(BaseModel):
    at: float
    request_id: str
    namespace: str
    path: str
    version: str | None
    status: int
    failure: str
    message: str
    guest_detail: str
    trace: list[TraceOut]
    logs: list[dict[str, object]]


class StatsOut(BaseModel):
    window_seconds: float
    endpoints: list[EndpointStats]
    deploys: list[AuditOut]
    recent_failures: list[FailureOut]
    queue_depth: int
    running: int
    # The host's processes these figures cover (`serve --processes N`).
    processes: int


def stats_snapshot(state: HostState) -> dict[str, Any]:
    """What this process tells a sibling serving the stats API."""
    return state.observer.snapshot() | {
        "queue_depth": state.gate.waiting,
        "running": state.gate.running,
    }


@admin_api.get("/stats")
@tag(["stats"])
@validate_response(StatsOut)
async def stats() -> StatsOut:
    """This host's view of the last five minutes (all its processes), for the endpoints the
    caller may see."""
    caller = principal()
    state = host_state()
    observer = state.observer
    process_dir = state.settings.process_dir
    siblings = await gather_siblings(process_dir) if process_dir is not None else []
    events = await state.registry.audit_log(limit=200)
    return StatsOut(
        window_seconds=WINDOW_SECONDS,
        endpoints=[
            EndpointStats(
                **summary,  # type: ignore[arg-type]
                breaker=state.guards.breaker_state(
                    (str(summary["namespace"]), str(summary["path"]))
                ).value,
            )
            for summary in observer.summaries(caller.may_touch, siblings)
        ],
        deploys=[
            audit_out(event)
            for event in events
            if event.action.value in _DEPLOY_ACTIONS
            and event.namespace is not None
            and caller.may_touch(event.namespace)
        ][:50],
        recent_failures=[
            FailureOut(**failure)
            for failure in observer.recent_failures(siblings)
            if caller.may_touch(failure["namespace"])
        ],
        queue_depth=state.gate.waiting + sum(sibling["queue_depth"] for sibling in siblings),
        running=state.gate.running + sum(sibling["running"] for sibling in siblings),
        processes=1 + len(siblings),
    )
