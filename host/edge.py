"""Checks on a request's framing, before any application code sees it.

- A request with both Content-Length and Transfer-Encoding is how requests
  are smuggled past a proxy that reads the other header. RFC 9112 §6.3 lets
  a server refuse it and requires closing the connection afterwards: it is
  answered 400, and nothing after it on that connection is read.
- A management API body that is not an upload (JSON, at most
  `MAX_ADMIN_JSON_BYTES`) must say its length, so an oversized one is
  refused before a byte of it is buffered.

Every refusal here closes the connection: its framing is not to be trusted,
or its body is not going to be read.
"""

from __future__ import annotations

from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, HTTPScope, Scope

from host.wire import request_id_from, scope_header, send_json_error

MAX_ADMIN_JSON_BYTES = 256 * 1024
_ADMIN_PREFIX = "/admin/"
_METHODS_WITH_BODIES = frozenset({"POST", "PUT", "PATCH"})
_CLOSE = [(b"connection", b"close")]

Refusal = tuple[int, str, str]


class Edge:
    def __init__(self, app: ASGIFramework) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "http":
            refusal = _refusal(scope)
            if refusal is not None:
                request_id = request_id_from(scope_header(scope, b"x-request-id"))
                await send_json_error(send, *refusal, request_id, _CLOSE)
                return
        await self.app(scope, receive, send)


def _refusal(scope: HTTPScope) -> Refusal | None:
    headers = {bytes(name).lower(): bytes(value) for name, value in scope["headers"]}
    if b"transfer-encoding" in headers and b"content-length" in headers:
        return 400, "ambiguous_framing", "send Content-Length or Transfer-Encoding, not both"
    if _is_admin_json(scope, headers):
        return _admin_body_refusal(headers.get(b"content-length"))
    return None


def _is_admin_json(scope: HTTPScope, headers: dict[bytes, bytes]) -> bool:
    content_type = headers.get(b"content-type", b"").lower()
    return (
        scope["method"] in _METHODS_WITH_BODIES
        and scope["path"].startswith(_ADMIN_PREFIX)
        and not content_type.startswith(b"multipart/form-data")
    )


def _admin_body_refusal(length: bytes | None) -> Refusal | None:
    if length is None:
        return 411, "length_required", "management API bodies must send Content-Length"
    if not length.isdigit() or int(length) > MAX_ADMIN_JSON_BYTES:
        return 413, "too_large", f"management API bodies are at most {MAX_ADMIN_JSON_BYTES} bytes"
    return None
