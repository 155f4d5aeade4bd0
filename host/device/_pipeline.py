"""The device request path, start to end, in the order a request meets it.

    framing checked (front) -> route decided (one lookup: 404, 503 disabled,
    405, 503 circuit open) -> body read within its limit (413) -> admitted
    (rate, concurrency, load shedding) -> version chosen -> run in a fairly
    shared sandbox slot -> output limits -> response sent, counted, logged

Every answer, refusals included, carries `x-request-id`; every error is the
JSON error shape.
"""

from __future__ import annotations

import asyncio
import time

from host.device._asgi import HTTPScope, Receive, Send, send_error
from host.device._body import BodyTimeout, BodyTooLarge, Disconnected, read_body
from host.device._head import CLIENT_ADDRESS_HEADER, RequestHead, client_address
from host.device._response import send_result
from host.device._route import MethodNotAllowed, NotFound, Refused, decide
from host.device._run import run_admitted
from host.device._version import chosen_version
from host.observe import Served
from host.protect import Load, Refusal, RefusalPacer, Withdrawn, circuit_open
from host.routing import Route
from host.sandbox import ScriptRequest
from host.state import HostState
from host.traffic import Selection

# The rest of a refused body is never read, so the connection cannot carry
# another request: say so, or a client reusing it would see it close unanswered.
_CLOSE = [(b"connection", b"close")]


async def serve_device(
    state: HostState,
    scope: HTTPScope,
    receive: Receive,
    send: Send,
    head: RequestHead,
    request_id: str,
    where: tuple[str, str],
) -> None:
    method = scope["method"]
    with_body = method != "HEAD"
    namespace, path = where
    decision = decide(state.routes, state.guards, namespace, path, method, time.monotonic())
    if isinstance(decision, NotFound):
        await send_error(send, 404, "not_found", decision.message, request_id, with_body=with_body)
        return
    if isinstance(decision, MethodNotAllowed):
        allow = [(b"allow", decision.allow_header.encode())]
        message = f"{method} is not allowed here"
        await send_error(
            send, 405, "method_not_allowed", message, request_id, allow, with_body=with_body
        )
        return
    if isinstance(decision, Refused):
        await _refuse(state, send, decision.route, decision.refusal, request_id, with_body)
        return
    route = decision
    try:
        body = await read_body(receive, head, state.settings.max_request_body_bytes)
    except BodyTooLarge:
        message = "request body is too large"
        await send_error(
            send, 413, "request_too_large", message, request_id, _CLOSE, with_body=with_body
        )
        return
    except BodyTimeout:
        message = "the request body did not arrive in time"
        await send_error(
            send, 408, "request_timeout", message, request_id, _CLOSE, with_body=with_body
        )
        return
    except Disconnected:
        return
    now = time.monotonic()
    load = Load(state.gate.waiting, state.gate.oldest_wait_ms(route.key, now))
    refused = state.guards.admit(route.key, route.quotas, load, now)
    if refused is not None:
        await _refuse(state, send, route, refused, request_id, with_body)
        return
    route, selection = chosen_version(route, head, request_id)
    script_request = _script_request(scope, head, route, path, body, request_id)
    try:
        result = await run_admitted(state, route, script_request)
    except Withdrawn:
        # Its breaker opened while it waited for a slot.
        wait = state.guards.open_for(route.key, time.monotonic()) or 0.0
        await _refuse(state, send, route, circuit_open(wait), request_id, with_body)
        return
    # Logged and counted before it is sent: whoever reads the answer finds its log line.
    served = _served(route, selection)
    state.observer.request(served, request_id, result, time.monotonic() - now)
    await send_result(send, result, request_id, with_body=with_body)


async def _refuse(
    state: HostState,
    send: Send,
    route: Route,
    refusal: Refusal,
    request_id: str,
    with_body: bool,
) -> None:
    state.observer.refusal(_served(route), request_id, refusal)
    if refusal.paced:
        await _held(state.guards.pacer, refusal.retry_after_s)
    retry_after = [(b"retry-after", refusal.retry_after_header.encode())]
    await send_error(
        send,
        refusal.status,
        refusal.error,
        refusal.message,
        request_id,
        retry_after,
        with_body=with_body,
    )


async def _held(pacer: RefusalPacer, retry_after_s: float) -> None:
    seconds = pacer.hold(retry_after_s)
    if seconds:
        try:
            await asyncio.sleep(seconds)
        finally:
            pacer.release()


def _served(route: Route, selection: Selection | None = None) -> Served:
    return Served(route.namespace, route.path, route.version, selection)


def _script_request(
    scope: HTTPScope, head: RequestHead, route: Route, path: str, body: bytes, request_id: str
) -> ScriptRequest:
    return ScriptRequest(
        method=scope["method"],
        path=path,
        query=scope["query_string"].decode("latin-1"),
        headers=[(CLIENT_ADDRESS_HEADER, client_address(scope)), *head.forwarded],
        body=body,
        endpoint=route.endpoint,
        version=route.version or "",
        request_id=request_id,
    )
