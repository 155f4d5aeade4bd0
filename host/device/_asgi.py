"""Typed ASGI aliases and the one way the device path sends a response."""

from __future__ import annotations

from collections.abc import Sequence

from hypercorn.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    HTTPScope,
    Scope,
    WebsocketResponseBodyEvent,
    WebsocketResponseStartEvent,
    WWWScope,
)

from host.device._errors import error_body

Receive = ASGIReceiveCallable
Send = ASGISendCallable
RawHeaders = list[tuple[bytes, bytes]]

__all__ = [
    "HTTPScope",
    "RawHeaders",
    "Receive",
    "Scope",
    "Send",
    "WWWScope",
    "refuse_websocket",
    "send_error",
    "send_response",
]

_JSON = (b"content-type", b"application/json")


async def send_response(
    send: Send, status: int, headers: RawHeaders, body: bytes, *, with_body: bool = True
) -> None:
    """Start and end a response; `headers` must already carry its length and request id.

    `with_body` False answers a HEAD request: the same headers, no body.
    """
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": headers,
        "trailers": False,
    }
    end: HTTPResponseBodyEvent = {
        "type": "http.response.body",
        "body": body if with_body else b"",
        "more_body": False,
    }
    await send(start)
    await send(end)


async def send_error(
    send: Send,
    status: int,
    error: str,
    message: str,
    request_id: str,
    extra: Sequence[tuple[bytes, bytes]] = (),
    *,
    with_body: bool = True,
) -> None:
    """Answer with the JSON error shape."""
    body = error_body(error, message, request_id)
    headers = [*_error_headers(body, request_id), *extra]
    await send_response(send, status, headers, body, with_body=with_body)


async def refuse_websocket(
    send: Send, status: int, error: str, message: str, request_id: str
) -> None:
    """Answer a WebSocket handshake with the JSON error shape instead of upgrading it
    (ASGI's `websocket.http.response` extension, which Hypercorn offers)."""
    body = error_body(error, message, request_id)
    start: WebsocketResponseStartEvent = {
        "type": "websocket.http.response.start",
        "status": status,
        "headers": _error_headers(body, request_id),
    }
    end: WebsocketResponseBodyEvent = {
        "type": "websocket.http.response.body",
        "body": body,
        "more_body": False,
    }
    await send(start)
    await send(end)


def _error_headers(body: bytes, request_id: str) -> RawHeaders:
    return [
        _JSON,
        (b"content-length", str(len(body)).encode()),
        (b"x-request-id", request_id.encode()),
    ]
