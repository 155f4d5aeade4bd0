"""The device request path: one ASGI pipeline in front of Quart.

Read it in the order a request meets it: `_front` (framing checks, device or
host route), `_route` (one lookup decides), `_body` (the body within its
limit), `_version` (which version runs), `_run` (a fairly shared sandbox
slot), `_response` (output limits, the response sent). `_pipeline` strings
them together.
"""

from host.device._errors import error_body, request_id_from
from host.device._framing import MAX_ADMIN_JSON_BYTES
from host.device._front import REQUEST_ID_SCOPE_KEY, Front
from host.device._response import MAX_RESPONSE_HEADER_BYTES, MAX_RESPONSE_HEADERS
from host.device._route import DEVICE_METHODS, RESERVED_NAMESPACES, decide, split_path
from host.device._run import run_module

__all__ = [
    "DEVICE_METHODS",
    "MAX_ADMIN_JSON_BYTES",
    "MAX_RESPONSE_HEADERS",
    "MAX_RESPONSE_HEADER_BYTES",
    "REQUEST_ID_SCOPE_KEY",
    "RESERVED_NAMESPACES",
    "Front",
    "decide",
    "error_body",
    "request_id_from",
    "run_module",
    "split_path",
]
