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
from urllib.parse import unquote

import aiohttp
import yarl

from host.backend_cache import CACHE_STATUS_HEADER, SharedResponses
from host.backend_types import (
    BackendCallRecord,
    BackendError,
    BackendErrorKind,
    BackendOutcome,
    BackendRequest,
    BackendResponse,
    CallSource,
    Headers,
    call_record,
)
from host.call_memo import CallMemo
from host.response_cache import (
    CachePolicy,
    ResponseCache,
    cache_key,
    request_is_cacheable,
    request_wants_fresh,
)

__all__ = [
    "BackendCallRecord",
    "BackendError",
    "BackendErrorKind",
    "BackendGateway",
    "BackendOutcome",
    "BackendRequest",
    "BackendResponse",
    "CallMemo",
    "CallSource",
    "Catalogue",
    "Headers",
    "Service",
    "UnsafePath",
    "service_url",
]

# Connections open at once to all services together (each keeps its idle ones).
_MAX_CONNECTIONS = 256
_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
# Headers a script may not set: they would let it impersonate the host or
# smuggle a second request.
_FORBIDDEN_REQUEST_HEADERS = frozenset(
    {"host", "connection", "content-length", "transfer-encoding", "upgrade", "proxy-authorization"}
)


# The body is handed over decoded, so headers describing the wire encoding would lie;
# and where an answer came from is the host's to say.
# Hop-by-hop headers (RFC 9110 §7.6.1) describe the host's connection to the
# service, not the answer; every header a script is handed costs its guest
# lifting (~50 K fuel in the JS runtime).
_HOP_BY_HOP_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
_DROPPED_RESPONSE_HEADERS = _HOP_BY_HOP_HEADERS | {
    "content-encoding",
    "content-length",
    CACHE_STATUS_HEADER,
}


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
    # Answers kept in the host's shared response cache; None: never cached.
    cache: CachePolicy | None = None

    def allows(self, namespace: str, path: str) -> bool:
        endpoint = f"{namespace}/{path.strip('/')}"
        return any(rule in ("*", namespace, endpoint) for rule in self.allow)


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


def service_url(service: Service, path: str) -> yarl.URL:
    """Join a script's path to its service's base URL, refusing anything that escapes it.

    The URL returned is the one sent: aiohttp takes it as it is, not parsed again.
    """
    _check_path_shape(path)
    base = yarl.URL(service.base_url)
    url = yarl.URL(service.base_url + path)
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
    """Runs scripts' backend calls on the event loop with pooled connections.

    On the way: identical reads within one request share one call (`memo`,
    host.call_memo), and services with a `cache` policy are answered from the
    shared response cache where HTTP's rules allow (host.backend_cache).
    """

    def __init__(self, catalogue: Catalogue, cache: ResponseCache | None = None) -> None:
        self.catalogue = catalogue
        self._session: aiohttp.ClientSession | None = None
        self.responses = SharedResponses(cache) if cache is not None else None

    async def aclose(self) -> None:
        if self.responses is not None:
            await self.responses.aclose()
        if self._session is not None:
            await self._session.close()

    def _client(self) -> aiohttp.ClientSession:
        # Made on first use: a session belongs to the event loop it was made on.
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=_MAX_CONNECTIONS, limit_per_host=0),
                timeout=aiohttp.ClientTimeout(total=None),
                # Redirects, proxies and cookies are not a script's to use.
                cookie_jar=aiohttp.DummyCookieJar(),
            )
            # aiohttp sends an idempotent request again, once, when a kept-alive
            # connection fails; a service's `retries` alone decide how often it
            # is asked (aiohttp's own test client turns this off the same way).
            self._session._retry_connection = False
        return self._session

    def use_catalogue(self, catalogue: Catalogue) -> None:
        """Serve `catalogue` from now on; cached answers of services that changed or left go."""
        previous, self.catalogue = self.catalogue, catalogue
        if self.responses is None:
            return
        for service in previous:
            if catalogue.get(service.name) != service:
                self.responses.forget(service.name)

    async def call_batch(
        self,
        requests: Sequence[BackendRequest],
        *,
        allowed: frozenset[str] | None,
        deadline: float,
        concurrency: int,
        memo: CallMemo | None = None,
    ) -> list[tuple[BackendOutcome, BackendCallRecord]]:
        """Run all calls concurrently (at most `concurrency` at once); results in order.

        A call answered by an identical one of the same request takes no slot.
        """
        gate = asyncio.Semaphore(max(1, concurrency))

        async def gated(request: BackendRequest) -> tuple[BackendOutcome, CallSource]:
            async with gate:
                return await self._answer(request, allowed=allowed, deadline=deadline)

        async def one(request: BackendRequest) -> tuple[BackendOutcome, BackendCallRecord]:
            started = time.monotonic()
            if memo is None:
                outcome, source = await gated(request)
            else:
                outcome, source = await memo.share(request, lambda: gated(request))
            return outcome, call_record(request, outcome, source, started)

        return list(await asyncio.gather(*(one(request) for request in requests)))

    async def call(
        self, request: BackendRequest, *, allowed: frozenset[str] | None, deadline: float
    ) -> tuple[BackendOutcome, BackendCallRecord]:
        started = time.monotonic()
        outcome, source = await self._answer(request, allowed=allowed, deadline=deadline)
        return outcome, call_record(request, outcome, source, started)

    async def _answer(
        self, request: BackendRequest, *, allowed: frozenset[str] | None, deadline: float
    ) -> tuple[BackendOutcome, CallSource]:
        service = self.catalogue.get(request.service)
        if service is None:
            refused = BackendError(
                BackendErrorKind.UNKNOWN_SERVICE, f"no service {request.service!r}"
            )
            return refused, CallSource.NONE
        if allowed is not None and service.name not in allowed:
            refused = BackendError(
                BackendErrorKind.NOT_ALLOWED, f"this endpoint may not call {service.name!r}"
            )
            return refused, CallSource.NONE
        try:
            url = service_url(service, request.path)
        except UnsafePath as error:
            return BackendError(BackendErrorKind.NOT_ALLOWED, str(error)), CallSource.NONE
        if self.responses is None or service.cache is None:
            return await self._attempts(service, request, url, deadline), CallSource.NETWORK
        return await self._through_cache(
            self.responses, service, service.cache, request, url, deadline
        )

    async def _through_cache(
        self,
        responses: SharedResponses,
        service: Service,
        policy: CachePolicy,
        request: BackendRequest,
        url: yarl.URL,
        deadline: float,
    ) -> tuple[BackendOutcome, CallSource]:
        sent = _script_headers(service, request)
        if not request_is_cacheable(request.method, sent, request.body):
            outcome = await self._attempts(service, request, url, deadline)
            if (
                not request.is_safe
                and isinstance(outcome, BackendResponse)
                and outcome.status < 400
            ):
                # RFC 9111 §4.4: a successful change makes what was cached of it stale.
                responses.invalidate(service.name, request.path)
            return outcome, CallSource.NETWORK
        # One fetch may answer many requests, so it is bounded by the service's
        # timeout, not this request's deadline; this request waits only until that.
        shared = _without_timeout(request)
        own_deadline = time.monotonic() + service.timeout_ms / 1000 * (1 + service.retries)
        return await responses.call(
            cache_key(service.name, request.method, request.path, sent, policy.vary),
            policy,
            lambda: self._attempts(service, shared, url, own_deadline),
            wait_s=_call_budget_seconds(service, request, deadline),
            fresh=request_wants_fresh(sent),
        )

    async def _attempts(
        self, service: Service, request: BackendRequest, url: yarl.URL, deadline: float
    ) -> BackendOutcome:
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
        self, service: Service, request: BackendRequest, url: yarl.URL, deadline: float
    ) -> BackendOutcome:
        budget = _call_budget_seconds(service, request, deadline)
        if budget <= 0:
            return BackendError(
                BackendErrorKind.TIMEOUT, "no time left before the request deadline"
            )
        try:
            async with asyncio.timeout(budget):
                return await self._exchange(
                    service, request, url, _outgoing_headers(service, request)
                )
        except TimeoutError:
            return BackendError(BackendErrorKind.TIMEOUT, f"{service.name} did not answer in time")
        except (aiohttp.ClientError, OSError) as error:
            return BackendError(
                BackendErrorKind.UNAVAILABLE, f"{service.name}: {type(error).__name__}"
            )

    async def _exchange(
        self, service: Service, request: BackendRequest, url: yarl.URL, headers: Headers
    ) -> BackendOutcome:
        async with self._client().request(
            request.method.upper(),
            url,
            headers=headers,
            data=request.body or None,
            allow_redirects=False,
        ) as response:
            body = bytearray()
            async for chunk in response.content.iter_any():
                body += chunk
                if len(body) > service.max_response_bytes:
                    response.close()
                    return BackendError(
                        BackendErrorKind.BAD_RESPONSE,
                        f"{service.name} answered more than {service.max_response_bytes} bytes",
                    )
            return BackendResponse(
                status=response.status, headers=_answer_headers(response), body=bytes(body)
            )


def _answer_headers(response: aiohttp.ClientResponse) -> Headers:
    """The service's headers a script sees: none about the connection they came over."""
    dropped = _DROPPED_RESPONSE_HEADERS.union(
        name.strip().lower()
        for value in response.headers.getall("connection", ())
        for name in value.split(",")
    )
    return [
        (name.lower(), value)
        for name, value in response.headers.items()
        if name.lower() not in dropped
    ]


def _outgoing_headers(service: Service, request: BackendRequest) -> Headers:
    """The script's headers, less any the host owns, then the catalogue's.

    A header the catalogue injects (an API key) is the catalogue's alone: the
    script's own, in any letter case, is dropped rather than sent beside it.
    """
    return _script_headers(service, request) + service.headers


def _script_headers(service: Service, request: BackendRequest) -> Headers:
    owned = _FORBIDDEN_REQUEST_HEADERS | {name.lower() for name, _ in service.headers}
    return [(name, value) for name, value in request.headers if name.lower() not in owned]


def _without_timeout(request: BackendRequest) -> BackendRequest:
    return BackendRequest(request.service, request.method, request.path, request.headers)


def _call_budget_seconds(service: Service, request: BackendRequest, deadline: float) -> float:
    limits = [service.timeout_ms / 1000, deadline - time.monotonic()]
    if request.timeout_ms is not None:
        limits.append(request.timeout_ms / 1000)
    return min(limits)
