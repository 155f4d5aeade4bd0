"""Refusals that need no script, answered before Quart sees the request.

A paused (circuit-open) or switched-off endpoint may be called thousands of
times a second by devices that retry. Answering each through Quart's routing
and response machinery costs the event loop about as much as serving a real
request; this ASGI layer answers them from the route table at a fraction of
that, so a flood of refusals does not slow the endpoints that still work.
Everything else, including every refusal that needs the request body or a
quota decision, goes on to Quart.
"""

from __future__ import annotations

import json
import time
import uuid

from hypercorn.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    HTTPScope,
    Scope,
)
from quart import Quart

from host.observe import Served
from host.protect import DISABLED, Refusal, circuit_open
from host.state import STATE_KEY, HostState


class FastRefusals:
    def __init__(self, app: Quart) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "http":
            state: HostState | None = self.app.extensions.get(STATE_KEY)
            answer = _refusal(state, scope) if state is not None else None
            if answer is not None:
                await _respond(send, *answer)
                return
        await self.app(scope, receive, send)


def _refusal(state: HostState, scope: HTTPScope) -> tuple[Refusal, str] | None:
    namespace, _, rest = str(scope["path"]).lstrip("/").partition("/")
    route = state.routes.lookup(namespace, "/" + rest.strip("/"))
    if route is None or route.module_hash is None or scope["method"] not in route.methods:
        return None
    if not route.enabled:
        refusal = DISABLED
    else:
        wait = state.guards.open_for(route.key, time.monotonic())
        if wait is None:
            return None
        refusal = circuit_open(wait)
    request_id = _header(scope, b"x-request-id") or uuid.uuid4().hex
    state.observer.refusal(Served(route.namespace, route.path, route.version), request_id, refusal)
    return refusal, request_id


async def _respond(send: ASGISendCallable, refusal: Refusal, request_id: str) -> None:
    body = json.dumps(
        {"error": refusal.error, "message": refusal.message, "request_id": request_id}
    ).encode()
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": refusal.status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", refusal.retry_after_header.encode()),
            (b"x-request-id", request_id.encode()),
        ],
        "trailers": False,
    }
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(start)
    await send(end)


def _header(scope: HTTPScope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None
