"""Errors the host answers itself: each names its own HTTP status and error code.

As `FailureClass.http_status` does for failed scripts, the class says how a
caller is answered, so raising one anywhere on a request's path is enough:

    class StorageFull(HostError):
        status = 507
        code = "storage_full"

This module imports nothing of the host, so any module (the sandbox, the
cache, the management API) can define its errors on it. How they, and the
errors of packages that know nothing of HTTP, become responses is
`host.http_errors`.
"""

from __future__ import annotations


class HostError(Exception):
    """Base of every error the host answers with its own status and code."""

    status: int = 500
    code: str = "host_error"

    def headers(self) -> dict[str, str]:
        """Headers the response must carry besides the JSON error."""
        return {}


class BadRequest(HostError):
    status = 400
    code = "bad_request"


class Unauthorized(HostError):
    status = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": "Bearer"}


class Forbidden(HostError):
    status = 403
    code = "forbidden"


class TooLarge(HostError):
    status = 413
    code = "too_large"
