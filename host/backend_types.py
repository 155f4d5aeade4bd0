"""What a backend call is made of: the request a script sends, what comes back, and its record.

Kept apart from the gateway (`host.backends`) so that the layers on its path
(request-scoped de-duplication, the shared response cache) can speak these
types without importing the gateway that composes them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum

Headers = list[tuple[str, str]]

# Methods that only read: identical calls in one request may share one answer.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class BackendErrorKind(StrEnum):
    UNKNOWN_SERVICE = "unknown-service"
    NOT_ALLOWED = "not-allowed"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    QUOTA_EXCEEDED = "quota-exceeded"
    BAD_RESPONSE = "bad-response"


class CallSource(StrEnum):
    """Where a call's answer came from."""

    NETWORK = "network"
    # An identical call earlier in the same request: one backend call for both.
    SHARED = "shared"
    CACHE = "cache"
    # A cached answer past its freshness, served while revalidating or
    # because the service failed; the script sees `x-scripthost-cache: stale`.
    STALE = "stale"
    # Refused before any connection (quota, allow-list, unknown service).
    NONE = "none"


@dataclass(frozen=True, slots=True)
class BackendRequest:
    service: str
    method: str
    path: str
    headers: Headers = field(default_factory=list)
    body: bytes = b""
    timeout_ms: int | None = None

    @property
    def is_safe(self) -> bool:
        return self.method.upper() in SAFE_METHODS and not self.body


@dataclass(frozen=True, slots=True)
class BackendResponse:
    status: int
    headers: Headers
    body: bytes


@dataclass(frozen=True, slots=True)
class BackendError:
    kind: BackendErrorKind
    message: str


BackendOutcome = BackendResponse | BackendError


@dataclass(frozen=True, slots=True)
class BackendCallRecord:
    """What one call did, for the request log and the ABI trace."""

    service: str
    method: str
    path: str
    status: int | None
    error: BackendErrorKind | None
    duration_ms: float
    source: CallSource = CallSource.NETWORK


def call_record(
    request: BackendRequest, outcome: BackendOutcome, source: CallSource, started: float
) -> BackendCallRecord:
    """The record of a call that began at `started` (time.monotonic) and ended now."""
    return BackendCallRecord(
        service=request.service,
        method=request.method,
        path=request.path,
        status=outcome.status if isinstance(outcome, BackendResponse) else None,
        error=outcome.kind if isinstance(outcome, BackendError) else None,
        duration_ms=round((time.monotonic() - started) * 1000, 3),
        source=source,
    )
