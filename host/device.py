"""The device path: `ANY /{namespace}/{endpoint path}` runs the endpoint's active version."""

from __future__ import annotations

import time
import uuid

from quart import Response, request

from host.abi import RequestContext
from host.observe import Served
from host.protect import DISABLED, Load, Refusal
from host.routing import Route
from host.sandbox import RunResult, ScriptRequest
from host.state import HostState, host_state
from host.wire import json_error

# Headers that describe one hop, not the request: never passed to scripts.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "authorization",
    }
)
_RESPONSE_HEADERS_OWNED_BY_HOST = frozenset({"content-length", "transfer-encoding", "connection"})


async def serve_device_request(namespace: str, rest: str) -> Response:
    state = host_state()
    request_id = request.headers.get("x-request-id") or uuid.uuid4().hex
    path = "/" + rest.strip("/")
    route = state.routes.lookup(namespace, path)
    refusal = _refusal(route, request_id)
    if refusal is not None:
        return refusal
    assert route is not None
    assert route.module_hash is not None
    raw = await request.get_data(cache=False, as_text=False)
    body = raw if isinstance(raw, bytes) else raw.encode()
    if len(body) > state.settings.max_request_body_bytes:
        return json_error(413, "request_too_large", "request body is too large", request_id)
    now = time.monotonic()
    load = Load(state.gate.waiting, state.gate.oldest_wait_ms(route.key, now))
    refused = state.guards.admit(route.key, route.quotas, load, now)
    served = Served(route.namespace, route.path, route.version)
    if refused is not None:
        state.observer.refusal(served, request_id, refused)
        return _refusal_response(refused, request_id)
    result = await _run_admitted(state, route, _script_request(route, path, body, request_id))
    state.observer.request(served, request_id, result, time.monotonic() - now)
    return _response(result, request_id)


async def _run_admitted(state: HostState, route: Route, script_request: ScriptRequest) -> RunResult:
    """Run on a fairly shared worker, then tell the guards how it went."""
    assert route.module_hash is not None
    result: RunResult | None = None
    try:
        module = await state.loader.get(route.module_hash, route.kind)
        await state.gate.acquire(route.key)
        try:
            context = _context(state, route, script_request.request_id)
            result = await state.sandbox.run(module, script_request, context)
        finally:
            state.gate.release(route.key, cost_ms=result.wall_ms if result else 0.0)
    finally:
        failure = result.failure if result else None
        state.guards.release(route.key, failure, time.monotonic())
    return result


def _refusal_response(refused: Refusal, request_id: str) -> Response:
    response = json_error(refused.status, refused.error, refused.message, request_id)
    response.headers["Retry-After"] = refused.retry_after_header
    return response


def _refusal(route: Route | None, request_id: str) -> Response | None:
    if route is None or route.module_hash is None:
        return json_error(404, "not_found", "no endpoint at this path", request_id)
    if not route.enabled:
        return _refusal_response(DISABLED, request_id)
    if request.method not in route.methods:
        response = json_error(
            405, "method_not_allowed", f"{request.method} is not allowed here", request_id
        )
        response.headers["Allow"] = ", ".join(sorted(route.methods))
        return response
    return None


def _script_request(route: Route, path: str, body: bytes, request_id: str) -> ScriptRequest:
    return ScriptRequest(
        method=request.method,
        path=path,
        query=request.query_string.decode("latin-1"),
        headers=[
            (name.lower(), value)
            for name, value in request.headers.items()
            if name.lower() not in _HOP_BY_HOP
        ],
        body=body,
        endpoint=route.endpoint,
        version=route.version or "",
        request_id=request_id,
    )


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


def _response(result: RunResult, request_id: str) -> Response:
    if result.response is None:
        assert result.failure is not None
        response = json_error(
            result.status, result.failure.value, result.failure_message, request_id
        )
        response.headers["x-scripthost-failure"] = result.failure.value
        return response
    response = Response(result.response.body, status=result.response.status)
    response.headers.clear()
    for name, value in result.response.headers:
        if name not in _RESPONSE_HEADERS_OWNED_BY_HOST:
            response.headers.add(name, value)
    response.headers["x-request-id"] = request_id
    return response
