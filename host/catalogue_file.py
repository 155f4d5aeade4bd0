"""The backend service catalogue file the API team maintains (`serve --catalogue FILE`).

    {"services": [
        {"name": "profile", "url": "http://profile.internal:8080/v1",
         "timeout_ms": 500, "retries": 1, "max_response_bytes": 1048576,
         "headers": {"x-api-key": "..."}, "allow": ["tv", "music/home"],
         "cache": {"ttl_s": 30, "stale_if_error_s": 600}}
    ]}

Each entry is a name and a service spec (`host.service_spec` says what every
field means). Scripts name a service; they never see its URL. The services of
the file are the host's read-only layer: served as written, over whatever
the registry's managed catalogue holds (see `host.services`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ValidationError

from host.backends import Catalogue
from host.service_spec import ServiceEntry


class _CatalogueFile(BaseModel, extra="forbid"):
    services: list[ServiceEntry]


class CatalogueFileError(ValueError):
    pass


def load_catalogue(path: Path) -> Catalogue:
    try:
        document = _CatalogueFile.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as error:
        raise CatalogueFileError(f"{path}: {error}") from None
    return Catalogue(entry.service(entry.name) for entry in document.services)
