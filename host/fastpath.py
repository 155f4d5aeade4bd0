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

import time

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, HTTPScope, Scope
from quart import Quart

from host.observe import Served
from host.protect import DISABLED, Refusal, circuit_open
from host.state import STATE_KEY, HostState
from host.wire import request_id_from, scope_header, send_json_error


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
    request_id = request_id_from(scope_header(scope, b"x-request-id"))
    state.observer.refusal(Served(route.namespace, route.path, route.version), request_id, refusal)
    return refusal, request_id


async def _respond(send: ASGISendCallable, refusal: Refusal, request_id: str) -> None:
    retry_after = (b"retry-after", refusal.retry_after_header.encode())
    await send_json_error(
        send, refusal.status, refusal.error, refusal.message, request_id, [retry_after]
    )
