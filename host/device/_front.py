"""The host's ASGI application: framing checks, then the device pipeline or Quart.

Device requests never enter Quart: Quart serves the host's own routes (the
management API, the console, metrics and probes), whose namespaces are
reserved. Every response, Quart's included, carries `x-request-id`. The host
serves no WebSockets: a handshake is refused here, wherever it is sent
(Quart, which has no WebSocket routes, failed on it with a 500 and a logged
traceback).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypercorn.typing import ASGIFramework, ASGISendEvent

from host.device._asgi import HTTPScope, Receive, Scope, Send, refuse_websocket, send_error
from host.device._errors import request_id_from
from host.device._framing import CLOSE, framing_refusal
from host.device._head import RequestHead
from host.device._pipeline import serve_device
from host.device._route import RESERVED_NAMESPACES, split_path
from host.state import HostState

_NO_WEBSOCKETS = ("websocket_not_served", "this host serves HTTP requests, not WebSockets")
# Where the front leaves a request's id in the scope for Quart's error handler.
REQUEST_ID_SCOPE_KEY = "scripthost.request_id"


class Front:
    def __init__(self, app: ASGIFramework, state: Callable[[], HostState | None]) -> None:
        self.app = app
        self._state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        head = RequestHead.read(scope)
        request_id = request_id_from(head.request_id)
        if scope["type"] == "websocket":
            await refuse_websocket(send, 400, *_NO_WEBSOCKETS, request_id)
            return
        refusal = framing_refusal(scope, head)
        if refusal is not None:
            await send_error(send, *refusal, request_id, CLOSE)
            return
        where = split_path(scope["path"])
        state = self._state()
        if state is None or where is None or where[0] in RESERVED_NAMESPACES:
            await self._quart(scope, receive, send, request_id)
            return
        await serve_device(state, scope, receive, send, head, request_id, where)

    async def _quart(self, scope: HTTPScope, receive: Receive, send: Send, request_id: str) -> None:
        scope_dict: dict[str, Any] = scope  # type: ignore[assignment]
        scope_dict[REQUEST_ID_SCOPE_KEY] = request_id
        await self.app(scope, receive, _with_request_id(send, request_id))


def _with_request_id(send: Send, request_id: str) -> Send:
    header = (b"x-request-id", request_id.encode())

    async def sending(event: ASGISendEvent) -> None:
        if event["type"] == "http.response.start":
            headers = list(event["headers"])
            if not any(bytes(name).lower() == b"x-request-id" for name, _ in headers):
                headers.append(header)
            event = {**event, "headers": headers}
        await send(event)

    return sending
