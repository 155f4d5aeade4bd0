"""Calls to the backend services named in the host's catalogue.

A script names a service (`profile`) and a path below it (`/users/42`); the host owns
the URLs. A service's own HTTP status (404, 500, ...) arrives as a `BackendResponse`;
only failures to get an answer at all are a `BackendError`.
"""

from __future__ import annotations

import json as _json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, get_args
from urllib.parse import urlencode

from scripthost_sdk import _abi
from scripthost_sdk._http import Headers, HeadersLike, find_header, normalise_headers

BackendErrorKind = Literal[
    "unknown-service", "not-allowed", "timeout", "unavailable", "quota-exceeded", "bad-response"
]
BACKEND_ERROR_KINDS: tuple[BackendErrorKind, ...] = get_args(BackendErrorKind)

_MAX_TIMEOUT_MS = 2**32 - 1
_NO_JSON: Any = object()

QueryLike = Mapping[str, str | int | float] | Iterable[tuple[str, str | int | float]]
"""What `query=` accepts: a mapping or (name, value) pairs, encoded onto the path."""


class BackendError(Exception):
    """A backend call that got no usable answer; `kind` says why."""

    def __init__(self, kind: BackendErrorKind, message: str) -> None:
        super().__init__(kind, message)
        self.kind: BackendErrorKind = kind
        self.message = message

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"

    def __repr__(self) -> str:
        return f"BackendError({self.kind!r}, {self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BackendError):
            return NotImplemented
        return (self.kind, self.message) == (other.kind, other.message)

    def __hash__(self) -> int:
        return hash((self.kind, self.message))


@dataclass(frozen=True)
class BackendRequest:
    """One call to a service: build it with `request(...)`, send it with `fetch` or `batch`."""

    service: str
    path: str
    method: str = "GET"
    headers: Headers = field(default_factory=list)
    body: bytes = b""
    timeout_ms: int | None = None


@dataclass(frozen=True)
class BackendResponse:
    """A service's answer, whatever its status."""

    status: int
    headers: Headers = field(default_factory=list)
    body: bytes = b""

    @property
    def ok(self) -> bool:
        """True for a 2xx status."""
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        """First value of the response header `name` (case-insensitive), or None."""
        return find_header(self.headers, name)

    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes become U+FFFD)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError when it is not JSON."""
        return _json.loads(self.body)


def request(
    service: str,
    path: str,
    *,
    method: str = "GET",
    headers: HeadersLike | None = None,
    body: bytes | str = b"",
    json: Any = _NO_JSON,
    query: QueryLike | None = None,
    timeout_ms: int | None = None,
) -> BackendRequest:
    """Describe a call without sending it (for `fetch` or `batch`).

    `json` sends a value as a JSON body (with `content-type: application/json`
    unless `headers` name one); `query` is encoded and appended to `path`.
    """
    if timeout_ms is not None and not 0 <= timeout_ms <= _MAX_TIMEOUT_MS:
        raise ValueError(f"timeout_ms must be between 0 and {_MAX_TIMEOUT_MS}, not {timeout_ms}")
    call_headers = normalise_headers(headers)
    if json is not _NO_JSON:
        if body:
            raise ValueError("give either body or json, not both")
        body = _json.dumps(json, separators=(",", ":"), ensure_ascii=False)
        if find_header(call_headers, "content-type") is None:
            call_headers.insert(0, ("content-type", "application/json"))
    return BackendRequest(
        service=service,
        path=_with_query(path, query),
        method=method.upper(),
        headers=call_headers,
        body=body.encode("utf-8") if isinstance(body, str) else bytes(body),
        timeout_ms=timeout_ms,
    )


def _with_query(path: str, query: QueryLike | None) -> str:
    if query is None:
        return path
    pairs = query.items() if isinstance(query, Mapping) else query
    encoded = urlencode([(name, str(value)) for name, value in pairs])
    if not encoded:
        return path
    return f"{path}{'&' if '?' in path else '?'}{encoded}"


def fetch(call: BackendRequest) -> BackendResponse:
    """Send one call and wait for it; raises `BackendError` when there is no answer."""
    outcome = _abi.current().backend_call(call)
    if isinstance(outcome, BackendError):
        raise outcome
    return outcome


def get(
    service: str,
    path: str,
    *,
    headers: HeadersLike | None = None,
    query: QueryLike | None = None,
    timeout_ms: int | None = None,
) -> BackendResponse:
    """`GET path` on `service`; raises `BackendError` when there is no answer."""
    return fetch(request(service, path, headers=headers, query=query, timeout_ms=timeout_ms))


def post(
    service: str,
    path: str,
    body: bytes | str = b"",
    *,
    json: Any = _NO_JSON,
    headers: HeadersLike | None = None,
    query: QueryLike | None = None,
    timeout_ms: int | None = None,
) -> BackendResponse:
    """`POST path` on `service` with `body` or `json`; raises `BackendError` on no answer."""
    call = request(
        service,
        path,
        method="POST",
        headers=headers,
        body=body,
        json=json,
        query=query,
        timeout_ms=timeout_ms,
    )
    return fetch(call)


def batch(calls: Sequence[BackendRequest]) -> list[BackendResponse | BackendError]:
    """Send several calls at once; the host runs them concurrently.

    Returns one item per call, in order: a `BackendResponse`, or the `BackendError`
    (returned, not raised) for a call that got no answer.
    """
    if not calls:
        return []
    return _abi.current().backend_call_batch(list(calls))
