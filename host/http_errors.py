"""The one place an exception becomes the JSON error a caller gets.

Host errors carry their status and code (`host.errors`); errors of the
packages that know nothing of HTTP (the registry, the engine's module
checks) are mapped here, once. Anything else is a 500 `host_error` whose
details go to the log, never to the caller.
"""

from __future__ import annotations

import pydantic
from quart import Response
from quart_schema import RequestSchemaValidationError
from werkzeug.exceptions import HTTPException

from host.device import error_body
from host.errors import HostError
from registry import Conflict, CorruptBlob, NotFound, QuotaExceeded, RegistryUnavailable

# Messages may quote what the caller sent (a bad key, a bad path): enough to
# find the mistake, never a way to make the host echo megabytes back.
MAX_MESSAGE_CHARS = 1_000

_MAPPED: tuple[tuple[type[Exception], int, str], ...] = (
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (QuotaExceeded, 403, "quota_exceeded"),
    (RegistryUnavailable, 503, "registry_unavailable"),
    (CorruptBlob, 500, "corrupt_blob"),
)

Described = tuple[int, str, str, dict[str, str]]


def json_error(status: int, error: str, message: str, request_id: str | None = None) -> Response:
    """The JSON error shape as a Quart response (the device path sends it without Quart)."""
    return Response(
        error_body(error, message, request_id), status=status, content_type="application/json"
    )


def error_response(error: Exception, request_id: str | None = None) -> Response | None:
    """The JSON error for `error`, or None when the host did not expect it."""
    described = _describe(error)
    if described is None:
        return None
    status, code, message, headers = described
    response = json_error(status, code, _bounded(message or code), request_id)
    response.headers.update(headers)
    return response


def _describe(error: Exception) -> Described | None:
    if isinstance(error, HostError):
        return error.status, error.code, str(error), error.headers()
    if isinstance(error, RequestSchemaValidationError):
        return 400, "bad_request", validation_message(error.validation_error), {}
    if isinstance(error, HTTPException):
        code = (error.name or "error").lower().replace(" ", "_")
        return error.code or 500, code, error.description or code, {}
    for error_type, status, code in _MAPPED:
        if isinstance(error, error_type):
            return status, code, str(error), {}
    return None


def validation_message(error: object) -> str:
    if not isinstance(error, pydantic.ValidationError):
        return str(error)
    return "; ".join(
        f"{'.'.join(map(str, problem['loc'])) or 'body'}: {problem['msg']}"
        for problem in error.errors(include_url=False, include_input=False)
    )


def _bounded(message: str) -> str:
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return message[: MAX_MESSAGE_CHARS - 1] + "…"
