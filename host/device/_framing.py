"""Checks on a request's framing, before anything else reads it.

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

from host.device._asgi import HTTPScope
from host.device._head import RequestHead

MAX_ADMIN_JSON_BYTES = 256 * 1024
CLOSE = ((b"connection", b"close"),)
_ADMIN_PREFIX = "/admin/"
_METHODS_WITH_BODIES = frozenset({"POST", "PUT", "PATCH"})

Refusal = tuple[int, str, str]


def framing_refusal(scope: HTTPScope, head: RequestHead) -> Refusal | None:
    if head.transfer_encoding and head.content_length is not None:
        return 400, "ambiguous_framing", "send Content-Length or Transfer-Encoding, not both"
    if _is_admin_json(scope, head):
        return _admin_body_refusal(head.content_length)
    return None


def _is_admin_json(scope: HTTPScope, head: RequestHead) -> bool:
    return (
        scope["method"] in _METHODS_WITH_BODIES
        and scope["path"].startswith(_ADMIN_PREFIX)
        and not head.content_type.lower().startswith(b"multipart/form-data")
    )


def _admin_body_refusal(length: bytes | None) -> Refusal | None:
    if length is None:
        return 411, "length_required", "management API bodies must send Content-Length"
    if not length.isdigit() or int(length) > MAX_ADMIN_JSON_BYTES:
        return 413, "too_large", f"management API bodies are at most {MAX_ADMIN_JSON_BYTES} bytes"
    return None
