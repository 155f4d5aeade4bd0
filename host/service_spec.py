"""How a backend service is declared: in a catalogue file, through the API, in the registry.

    {"url": "http://titles.internal:8080/v1", "timeout_ms": 500, "retries": 1,
     "max_response_bytes": 1048576, "headers": {"x-api-key": "..."},
     "allow": ["tv", "music/home"],
     "cache": {"ttl_s": 30, "max_bytes": 8388608, "vary": ["accept-language"],
               "stale_while_revalidate_s": 10, "stale_if_error_s": 600}}

`allow` lists who may call the service: "*" (the default), a namespace, or
one endpoint as NAMESPACE/PATH. `cache` (absent: nothing is cached) keeps
answers in the host's shared response cache: for `ttl_s` seconds, or without
it for as long as the service's own `Cache-Control` says; `max_bytes` of them
per host; one entry per value of each `vary` request header; stale answers
while one call revalidates (`stale_while_revalidate_s`) and when the service
fails (`stale_if_error_s`); the rules are in `host.response_cache`. The
values of `headers` are secrets (API keys): the API and the audit log show
their names only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, HttpUrl, ValidationError

from host.backends import Service
from host.response_cache import DEFAULT_SERVICE_BYTES, CachePolicy

MiB = 1 << 20
SERVICE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"


def _base_url(url: HttpUrl) -> HttpUrl:
    if url.query or url.fragment:
        raise ValueError("a service URL has no query or fragment: scripts add their own paths")
    return url


ServiceName = Annotated[str, Field(pattern=SERVICE_NAME_PATTERN)]
HeaderName = Annotated[str, Field(pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")]
HeaderValue = Annotated[str, Field(max_length=4096, pattern=r"^[\t\x20-\x7e]*$")]
AllowRule = Annotated[
    str, Field(max_length=256, pattern=r"^(\*|[a-z0-9][a-z0-9_-]*(/[A-Za-z0-9._~/-]*)?)$")
]
BaseUrl = Annotated[HttpUrl, Field(max_length=2048), AfterValidator(_base_url)]
Seconds = Annotated[float, Field(ge=0, le=7 * 86_400)]


class CacheSpec(BaseModel, extra="forbid"):
    ttl_s: Seconds | None = Field(
        default=None, description="Seconds an answer stays fresh; absent: the service's own"
    )
    max_bytes: int = Field(default=DEFAULT_SERVICE_BYTES, ge=1024, le=1 << 30)
    vary: list[HeaderName] = Field(default_factory=list, max_length=16)
    stale_while_revalidate_s: Seconds | None = None
    stale_if_error_s: Seconds | None = None

    def policy(self) -> CachePolicy:
        return CachePolicy(
            ttl_s=self.ttl_s,
            max_bytes=self.max_bytes,
            vary=tuple(sorted({name.lower() for name in self.vary})),
            stale_while_revalidate_s=self.stale_while_revalidate_s,
            stale_if_error_s=self.stale_if_error_s,
        )


class ServiceSpec(BaseModel, extra="forbid"):
    url: BaseUrl
    timeout_ms: int = Field(default=2_000, ge=1, le=300_000)
    retries: int = Field(default=0, ge=0, le=5)
    max_response_bytes: int = Field(default=4 * MiB, ge=1, le=64 * MiB)
    headers: dict[HeaderName, HeaderValue] = Field(default_factory=dict, max_length=32)
    allow: list[AllowRule] = Field(default_factory=lambda: ["*"], max_length=256)
    cache: CacheSpec | None = None

    def service(self, name: str) -> Service:
        return Service(
            name=name,
            base_url=str(self.url).rstrip("/"),
            timeout_ms=self.timeout_ms,
            retries=self.retries,
            max_response_bytes=self.max_response_bytes,
            headers=list(self.headers.items()),
            allow=tuple(self.allow),
            cache=self.cache.policy() if self.cache is not None else None,
        )

    def stored(self) -> dict[str, Any]:
        """The spec as the registry keeps it (JSON)."""
        return self.model_dump(mode="json")


class ServiceEntry(ServiceSpec):
    """One service of a catalogue file: its spec and its name."""

    name: ServiceName


def spec_of(service: Service) -> dict[str, Any]:
    """What a `Service` reads as in the stored form (for the host's read-only services)."""
    cache = service.cache
    return {
        "url": service.base_url,
        "timeout_ms": service.timeout_ms,
        "retries": service.retries,
        "max_response_bytes": service.max_response_bytes,
        "headers": dict(service.headers),
        "allow": list(service.allow),
        "cache": None
        if cache is None
        else {
            "ttl_s": cache.ttl_s,
            "max_bytes": cache.max_bytes,
            "vary": list(cache.vary),
            "stale_while_revalidate_s": cache.stale_while_revalidate_s,
            "stale_if_error_s": cache.stale_if_error_s,
        },
    }


def service_from_stored(name: str, spec: Mapping[str, Any]) -> Service:
    """A registry's stored spec as a Service; ValueError when it does not validate."""
    try:
        return ServiceSpec.model_validate(dict(spec)).service(name)
    except ValidationError as error:
        raise ValueError(f"service {name!r}: {error}") from None
