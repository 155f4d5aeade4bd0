"""What every non-script response shares: the JSON error shape and the request id."""

from __future__ import annotations

import json
import re
import uuid

from hypercorn.typing import (
    ASGISendCallable,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    HTTPScope,
)
from quart import Response, jsonify

# A caller's own request id is kept when it is plain: visible ASCII, short.
# Anything else (control bytes, kilobytes of it) would travel into every
# log line and error body of the request, so it gets a fresh id instead.
_PLAIN_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")


def json_error(status: int, error: str, message: str, request_id: str | None = None) -> Response:
    document: dict[str, str] = {"error": error, "message": message}
    if request_id is not None:
        document["request_id"] = request_id
    response = jsonify(document)
    response.status_code = status
    return response


def request_id_from(header: str | None) -> str:
    """The caller's `x-request-id` if it is 1-128 visible ASCII characters, else a fresh id."""
    if header is not None and _PLAIN_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


def scope_header(scope: HTTPScope, name: bytes) -> str | None:
    """The first value of header `name` (lower-case) of an ASGI request."""
    for key, value in scope["headers"]:
        if bytes(key).lower() == name:
            return bytes(value).decode("latin-1")
    return None


async def send_json_error(
    send: ASGISendCallable,
    status: int,
    error: str,
    message: str,
    request_id: str,
    headers: list[tuple[bytes, bytes]],
) -> None:
    """Answer an ASGI request with the JSON error shape, outside Quart."""
    body = json.dumps({"error": error, "message": message, "request_id": request_id}).encode()
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"x-request-id", request_id.encode()),
            *headers,
        ],
        "trailers": False,
    }
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(start)
    await send(end)
