"""The device path: `ANY /{namespace}/{endpoint path}` runs the endpoint's active version."""

from __future__ import annotations

import asyncio
import time

from quart import Response, request
from werkzeug.exceptions import RequestTimeout

from host.abi import RequestContext
from host.observe import Served
from host.protect import DISABLED, Load, Refusal
from host.response_limits import within_output_limits
from host.routing import Route
from host.sandbox import RunResult, ScriptRequest
from host.state import HostState, host_state
from host.traffic import choose
from host.wire import json_error, request_id_from

# The methods a device may call an endpoint with (and an endpoint may allow).
DEVICE_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Namespaces the host's own routes use: never a device endpoint's.
RESERVED_NAMESPACES = frozenset({"admin", "console", "metrics", "healthz", "readyz"})
# Scripts see the address the connection came from under this name, set by
# the host; a header of that name sent by the client is dropped.
CLIENT_ADDRESS_HEADER = "remote-addr"
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
        CLIENT_ADDRESS_HEADER,
    }
)
_RESPONSE_HEADERS_OWNED_BY_HOST = frozenset({"content-length", "transfer-encoding", "connection"})


async def serve_device_request(namespace: str, rest: str) -> Response:
    state = host_state()
    request_id = request_id_from(request.headers.get("x-request-id"))
    path = "/" + rest.strip("/")
    route = state.routes.lookup(namespace, path)
    refusal = _refusal(route, request_id)
    if refusal is not None:
        return refusal
    assert route is not None
    assert route.module_hash is not None
    body = await _body_within(state.settings.max_request_body_bytes)
    if body is None:
        return json_error(413, "request_too_large", "request body is too large", request_id)
    selection = choose(route.plan, request.headers, request_id)
    route = route.serving(selection)
    now = time.monotonic()
    load = Load(state.gate.waiting, state.gate.oldest_wait_ms(route.key, now))
    refused = state.guards.admit(route.key, route.quotas, load, now)
    served = Served(route.namespace, route.path, route.version, selection)
    if refused is not None:
        state.observer.refusal(served, request_id, refused)
        return _refusal_response(refused, request_id)
    result = await _run_admitted(state, route, _script_request(route, path, body, request_id))
    state.observer.request(served, request_id, result, time.monotonic() - now)
    return _response(result, request_id)


async def _body_within(limit: int) -> bytes | None:
    """The request body, or None as soon as it is known to pass `limit` bytes.

    Read as it arrives, so an oversized body is refused after `limit` bytes
    (or at once, by its Content-Length) rather than buffered whole.
    """
    if (request.content_length or 0) > limit:
        return None
    body = bytearray()
    try:
        async with asyncio.timeout(request.body_timeout):
            async for chunk in request.body:
                body += chunk
                if len(body) > limit:
                    return None
    except TimeoutError:
        raise RequestTimeout() from None
    return bytes(body)


async def _run_admitted(state: HostState, route: Route, script_request: ScriptRequest) -> RunResult:
    """Run on a fairly shared worker, then tell the guards how it went."""
    assert route.module_hash is not None
    result: RunResult | None = None
    try:
        module = await state.loader.get(route.module_hash, route.kind)
        await state.gate.acquire(route.key)
        try:
            context = _context(state, route, script_request.request_id)
            result = within_output_limits(
                await state.sandbox.run(module, script_request, context), route.limits
            )
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
            (CLIENT_ADDRESS_HEADER, _client_address()),
            *(
                (name.lower(), value)
                for name, value in request.headers.items()
                if name.lower() not in _HOP_BY_HOP
            ),
        ],
        body=body,
        endpoint=route.endpoint,
        version=route.version or "",
        request_id=request_id,
    )


def _client_address() -> str:
    """The peer of the connection, from the server (the ASGI scope), never from a header."""
    client = request.scope.get("client")
    return str(client[0]) if client else ""


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
