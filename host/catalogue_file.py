"""The backend service catalogue file the API team maintains (`serve --catalogue FILE`).

    {"services": [
        {"name": "profile", "url": "http://profile.internal:8080/v1",
         "timeout_ms": 500, "retries": 1, "max_response_bytes": 1048576,
         "headers": {"x-api-key": "..."}, "allow": ["tv", "music/home"]}
    ]}

`allow` lists who may call the service: "*" (the default), a namespace, or
one endpoint as NAMESPACE/PATH. Scripts name a service; they never see its URL.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, HttpUrl, ValidationError

from host.backends import Catalogue, Service


class _ServiceEntry(BaseModel, extra="forbid"):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")
    url: HttpUrl
    timeout_ms: int = Field(default=2_000, ge=1)
    retries: int = Field(default=0, ge=0, le=5)
    max_response_bytes: int = Field(default=4 << 20, ge=1)
    headers: dict[str, str] = Field(default_factory=dict)
    allow: list[str] = Field(default_factory=lambda: ["*"])


class _CatalogueFile(BaseModel, extra="forbid"):
    services: list[_ServiceEntry]


class CatalogueFileError(ValueError):
    pass


def load_catalogue(path: Path) -> Catalogue:
    try:
        document = _CatalogueFile.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as error:
        raise CatalogueFileError(f"{path}: {error}") from None
    return Catalogue(
        Service(
            name=entry.name,
            base_url=str(entry.url).rstrip("/"),
            timeout_ms=entry.timeout_ms,
            retries=entry.retries,
            max_response_bytes=entry.max_response_bytes,
            headers=list(entry.headers.items()),
            allow=tuple(entry.allow),
        )
        for entry in document.services
    )
