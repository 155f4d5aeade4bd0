"""Named backend services: the catalogue, path safety, and the pooled async client.

Scripts name a service and a path below it; they never see or choose a URL.
Every outbound URL is built here and checked to stay below its service's base
URL before a connection is made.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import unquote

import httpx

Headers = list[tuple[str, str]]

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Headers a script may not set: they would let it impersonate the host or
# smuggle a second request.
_FORBIDDEN_REQUEST_HEADERS = frozenset(
    {"host", "connection", "content-length", "transfer-encoding", "upgrade", "proxy-authorization"}
)


# The body is handed over decoded, so headers describing the wire encoding would lie.
_DECODED_RESPONSE_HEADERS = frozenset({"content-encoding", "content-length", "transfer-encoding"})


class BackendErrorKind(StrEnum):
    UNKNOWN_SERVICE = "unknown-service"
    NOT_ALLOWED = "not-allowed"
    TIMEOUT = "timeout"
    UNAVAILABLE = "unavailable"
    QUOTA_EXCEEDED = "quota-exceeded"
    BAD_RESPONSE = "bad-response"


@dataclass(frozen=True, slots=True)
class Service:
    """One entry of the catalogue the API team maintains."""

    name: str
    base_url: str
    timeout_ms: int = 2_000
    retries: int = 0
    max_response_bytes: int = 4 << 20
    headers: Headers = field(default_factory=list)
    # Which endpoints may call it: "*", a namespace ("tv") or one endpoint ("tv/home").
    allow: tuple[str, ...] = ("*",)

    def allows(self, namespace: str, path: str) -> bool:
        endpoint = f"{namespace}/{path.strip('/')}"
        return any(rule in ("*", namespace, endpoint) for rule in self.allow)


@dataclass(frozen=True, slots=True)
class BackendRequest:
    service: str
    method: str
    path: str
    headers: Headers = field(default_factory=list)
    body: bytes = b""
    timeout_ms: int | None = None


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


class Catalogue:
    """The services scripts may call, by name."""

    def __init__(self, services: Iterable[Service] = ()) -> None:
        self._services = {service.name: service for service in services}

    def get(self, name: str) -> Service | None:
        return self._services.get(name)

    def __iter__(self) -> Iterator[Service]:
        return iter(self._services.values())

    def names(self) -> list[str]:
        return sorted(self._services)

    def allowed_for(self, namespace: str, path: str) -> frozenset[str]:
        """The services an endpoint's script may call: its allow-list."""
        return frozenset(s.name for s in self._services.values() if s.allows(namespace, path))

    @classmethod
    def from_pairs(cls, pairs: Iterable[str]) -> Catalogue:
        """Build from `NAME=URL` strings, as given on the command line."""
        services = []
        for pair in pairs:
            name, sep, url = pair.partition("=")
            if not sep or not name or not url.startswith(("http://", "https://")):
                raise ValueError(f"backend must be NAME=http(s)://HOST[:PORT][/PATH], got {pair!r}")
            services.append(Service(name=name, base_url=url.rstrip("/")))
        return cls(services)


class UnsafePath(ValueError):
    """A service path that could leave the service's base URL."""


def service_url(service: Service, path: str) -> httpx.URL:
    """Join a script's path to its service's base URL, refusing anything that escapes it."""
    _check_path_shape(path)
    base = httpx.URL(service.base_url)
    url = httpx.URL(service.base_url + path)
    if (url.scheme, url.host, url.port) != (base.scheme, base.host, base.port):
        raise UnsafePath("path leaves the service's host")
    if not url.path.startswith(base.path.rstrip("/") + "/"):
        raise UnsafePath("path leaves the service's base path")
    return url


def _check_path_shape(path: str) -> None:
    if not path.startswith("/") or path.startswith("//"):
        raise UnsafePath("path must start with a single '/'")
    if "#" in path or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in path):
        raise UnsafePath("path contains a forbidden character")
    # The query may carry anything URL-encoded; the part that is joined to the
    # base URL may not hint at another host.
    raw_path = path.split("?", 1)[0]
    decoded = _fully_decoded(raw_path)
    if any(ch in decoded for ch in "\\@") or "://" in decoded:
        raise UnsafePath("path contains a forbidden character or a URL scheme")
    if any(segment in {".", ".."} for segment in decoded.split("/")):
        raise UnsafePath("path contains a '.' or '..' segment")


# Percent-decodings a path may need before it stops changing; more is no honest path.
_MAX_DECODINGS = 4


def _fully_decoded(path: str) -> str:
    """The path as a backend that decodes it again and again would end up seeing it."""
    for _ in range(_MAX_DECODINGS):
        decoded = unquote(path)
        if decoded == path:
            return decoded
        path = decoded
    raise UnsafePath("path is percent-encoded too many times")


class BackendGateway:
    """Runs scripts' backend calls on the event loop with pooled connections."""

    def __init__(self, catalogue: Catalogue, client: httpx.AsyncClient | None = None) -> None:
        self.catalogue = catalogue
        self._client = client or httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=256, max_keepalive_connections=64),
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def call_batch(
        self,
        requests: Sequence[BackendRequest],
        *,
        allowed: frozenset[str] | None,
        deadline: float,
        concurrency: int,
    ) -> list[tuple[BackendOutcome, BackendCallRecord]]:
        """Run all calls concurrently (at most `concurrency` at once); results in order."""
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(request: BackendRequest) -> tuple[BackendOutcome, BackendCallRecord]:
            async with gate:
                return await self.call(request, allowed=allowed, deadline=deadline)

        return list(await asyncio.gather(*(one(request) for request in requests)))

    async def call(
        self, request: BackendRequest, *, allowed: frozenset[str] | None, deadline: float
    ) -> tuple[BackendOutcome, BackendCallRecord]:
        started = time.monotonic()
        outcome = await self._outcome(request, allowed=allowed, deadline=deadline)
        record = BackendCallRecord(
            service=request.service,
            method=request.method,
            path=request.path,
            status=outcome.status if isinstance(outcome, BackendResponse) else None,
            error=outcome.kind if isinstance(outcome, BackendError) else None,
            duration_ms=round((time.monotonic() - started) * 1000, 3),
        )
        return outcome, record

    async def _outcome(
        self, request: BackendRequest, *, allowed: frozenset[str] | None, deadline: float
    ) -> BackendOutcome:
        service = self.catalogue.get(request.service)
        if service is None:
            return BackendError(BackendErrorKind.UNKNOWN_SERVICE, f"no service {request.service!r}")
        if allowed is not None and service.name not in allowed:
            return BackendError(
                BackendErrorKind.NOT_ALLOWED, f"this endpoint may not call {service.name!r}"
            )
        try:
            url = service_url(service, request.path)
        except UnsafePath as error:
            return BackendError(BackendErrorKind.NOT_ALLOWED, str(error))
        attempts = 1 + (service.retries if request.method.upper() in _IDEMPOTENT_METHODS else 0)
        outcome: BackendOutcome = BackendError(BackendErrorKind.UNAVAILABLE, "not attempted")
        for _ in range(attempts):
            outcome = await self._send_once(service, request, url, deadline)
            if not (
                isinstance(outcome, BackendError) and outcome.kind is BackendErrorKind.UNAVAILABLE
            ):
                break
        return outcome

    async def _send_once(
        self, service: Service, request: BackendRequest, url: httpx.URL, deadline: float
    ) -> BackendOutcome:
        budget = _call_budget_seconds(service, request, deadline)
        if budget <= 0:
            return BackendError(
                BackendErrorKind.TIMEOUT, "no time left before the request deadline"
            )
        headers = [
            (name, value)
            for name, value in request.headers
            if name.lower() not in _FORBIDDEN_REQUEST_HEADERS
        ] + service.headers
        try:
            async with asyncio.timeout(budget):
                return await self._exchange(service, request, url, headers)
        except TimeoutError:
            return BackendError(BackendErrorKind.TIMEOUT, f"{service.name} did not answer in time")
        except httpx.TransportError as error:
            return BackendError(
                BackendErrorKind.UNAVAILABLE, f"{service.name}: {type(error).__name__}"
            )

    async def _exchange(
        self, service: Service, request: BackendRequest, url: httpx.URL, headers: Headers
    ) -> BackendOutcome:
        outgoing = self._client.build_request(
            request.method.upper(), url, headers=headers, content=request.body or None
        )
        response = await self._client.send(outgoing, stream=True)
        try:
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > service.max_response_bytes:
                    return BackendError(
                        BackendErrorKind.BAD_RESPONSE,
                        f"{service.name} answered more than {service.max_response_bytes} bytes",
                    )
            return BackendResponse(
                status=response.status_code,
                headers=[
                    (name.lower(), value)
                    for name, value in response.headers.multi_items()
                    if name.lower() not in _DECODED_RESPONSE_HEADERS
                ],
                body=bytes(body),
            )
        finally:
            await response.aclose()


def _call_budget_seconds(service: Service, request: BackendRequest, deadline: float) -> float:
    limits = [service.timeout_ms / 1000, deadline - time.monotonic()]
    if request.timeout_ms is not None:
        limits.append(request.timeout_ms / 1000)
    return min(limits)
