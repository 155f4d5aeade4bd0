"""The device request a script receives and the response it returns."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

Headers = list[tuple[str, str]]
"""HTTP header fields in order; names lower-case, repeats allowed."""

HeadersLike = Mapping[str, str] | Iterable[tuple[str, str]]
"""What the helpers accept for headers: a mapping or (name, value) pairs."""


def normalise_headers(headers: HeadersLike | None) -> Headers:
    """Turn a mapping or pairs into the ABI's list of (lower-case name, value)."""
    if headers is None:
        return []
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return [(name.lower(), value) for name, value in pairs]


def find_header(headers: Headers, name: str) -> str | None:
    """First value of header `name` (case-insensitive), or None."""
    wanted = name.lower()
    for key, value in headers:
        if key.lower() == wanted:
            return value
    return None


def first_query_values(query: str) -> dict[str, str]:
    """`a=1&b=2&a=3` -> {"a": "1", "b": "2"}: the first value of each parameter."""
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        params.setdefault(key, value)
    return params


@dataclass(frozen=True)
class Request:
    """One device request, as the host received it."""

    method: str = "GET"
    path: str = "/"
    query: str = ""
    headers: Headers = field(default_factory=list)
    body: bytes = b""
    endpoint: str = ""
    version: str = ""
    request_id: str = ""

    @property
    def params(self) -> dict[str, str]:
        """Query parameters, first value of each: `?user=42` -> {"user": "42"}."""
        return first_query_values(self.query)

    def header(self, name: str) -> str | None:
        """First value of the request header `name` (case-insensitive), or None."""
        return find_header(self.headers, name)

    def text(self) -> str:
        """The body decoded as UTF-8 (invalid bytes become U+FFFD)."""
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON; raises ValueError when it is not JSON."""
        return json.loads(self.body)


@dataclass
class Response:
    """What `handle` returns: status, headers and body bytes."""

    status: int = 200
    headers: Headers = field(default_factory=list)
    body: bytes = b""


def json_response(value: Any, status: int = 200, headers: HeadersLike | None = None) -> Response:
    """A response whose body is `value` as compact JSON, content-type application/json."""
    body = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(status, with_content_type(headers, "application/json"), body)


def text_response(
    text: str,
    status: int = 200,
    headers: HeadersLike | None = None,
    content_type: str = "text/plain; charset=utf-8",
) -> Response:
    """A response whose body is `text` as UTF-8."""
    return Response(status, with_content_type(headers, content_type), text.encode("utf-8"))


def with_content_type(headers: HeadersLike | None, content_type: str) -> Headers:
    """`headers` normalised, with `content_type` first unless they name their own."""
    normalised = normalise_headers(headers)
    if find_header(normalised, "content-type") is not None:
        return normalised
    return [("content-type", content_type), *normalised]
