"""A device request's body, refused as soon as it is known to pass the limit.

It is read as it arrives: a declared Content-Length over the limit is refused
before a byte of the body is read, and a chunked one once the bytes received
pass the limit, so no device request ever holds more than the limit (plus one
chunk) of the host's memory.
"""

from __future__ import annotations

import asyncio

from host.device._asgi import Receive
from host.device._head import RequestHead

# How long a device may take to send its body once it has sent its head.
BODY_TIMEOUT_S = 60.0


class BodyTooLarge(Exception):
    pass


class BodyTimeout(Exception):
    pass


class Disconnected(Exception):
    pass


async def read_body(receive: Receive, head: RequestHead, limit: int) -> bytes:
    declared = head.declared_length()
    if declared is not None and declared > limit:
        raise BodyTooLarge
    body, more = await _chunk(receive)
    if len(body) > limit:
        raise BodyTooLarge
    if not more:
        return body
    try:
        async with asyncio.timeout(BODY_TIMEOUT_S):
            return await _rest(receive, bytearray(body), limit)
    except TimeoutError:
        raise BodyTimeout from None


async def _rest(receive: Receive, body: bytearray, limit: int) -> bytes:
    while True:
        chunk, more = await _chunk(receive)
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
        if not more:
            return bytes(body)


async def _chunk(receive: Receive) -> tuple[bytes, bool]:
    """The next piece of the body, and whether more follows."""
    message = await receive()
    if message["type"] != "http.request":
        raise Disconnected
    return bytes(message.get("body", b"")), bool(message.get("more_body", False))
