"""Running an admitted request: a fairly shared sandbox slot, the script, its output limits."""

from __future__ import annotations

import time

from host.device._response import within_output_limits
from host.routing import Route
from host.sandbox import CompiledModule, RequestContext, RunResult, ScriptRequest
from host.state import HostState


async def run_admitted(state: HostState, route: Route, request: ScriptRequest) -> RunResult:
    """Run on a fairly shared worker, then tell the guards how it went."""
    assert route.module_hash is not None
    result: RunResult | None = None
    try:
        module = await state.loader.get(route.module_hash, route.kind)
        result = await run_module(state, route, module, request)
    finally:
        failure = result.failure if result else None
        state.guards.release(route.key, failure, time.monotonic())
    return result


async def run_module(
    state: HostState, route: Route, module: CompiledModule, request: ScriptRequest
) -> RunResult:
    """Run `module` as `route`'s version runs: its limits, config, services, fair share."""
    context = _context(state, route, request.request_id)
    result = await state.sandbox.run(module, request, context, route.key)
    return within_output_limits(result, route.limits)


def _context(state: HostState, route: Route, request_id: str) -> RequestContext:
    return RequestContext(
        request_id=request_id,
        endpoint=route.endpoint,
        version=route.version or "",
        limits=route.limits,
        deadline=time.monotonic() + route.limits.timeout_ms / 1000,
        config=route.config,
        backends=state.gateway,
        allowed_services=route.allowed_services,
    )
