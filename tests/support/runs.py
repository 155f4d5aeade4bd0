"""Running one request through the sandbox from a test."""

from __future__ import annotations

import time
from collections.abc import Mapping

from host.backends import BackendGateway
from host.sandbox import CompiledModule, Limits, RequestContext, RunResult, Sandbox, ScriptRequest


async def run_once(
    sandbox: Sandbox,
    module: CompiledModule,
    request: ScriptRequest | None = None,
    *,
    limits: Limits | None = None,
    config: Mapping[str, str] | None = None,
    gateway: BackendGateway | None = None,
) -> RunResult:
    request = request or ScriptRequest("GET", "/", endpoint="tests/run", request_id="req-1")
    context = request_context(request, limits=limits, config=config, gateway=gateway)
    return await sandbox.run(module, request, context)


def request_context(
    request: ScriptRequest,
    *,
    limits: Limits | None = None,
    config: Mapping[str, str] | None = None,
    gateway: BackendGateway | None = None,
) -> RequestContext:
    limits = limits or Limits()
    return RequestContext(
        request_id=request.request_id,
        endpoint=request.endpoint,
        version=request.version,
        limits=limits,
        deadline=time.monotonic() + limits.timeout_ms / 1000,
        config=dict(config or {}),
        backends=gateway,
    )
