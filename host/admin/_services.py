"""The backend service catalogue: admins read and change it; every host applies it in one refresh.

What a spec holds is `host.service_spec`; how the managed services meet a
host's read-only ones (`--backend`, `--catalogue`) is `host.services`.
Header values are secrets: no answer of this API shows them.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError
from quart_schema import tag, validate_request, validate_response

from host.admin._api import admin_api
from host.admin._auth import admin_principal
from host.errors import BadRequest, HostError
from host.http_errors import validation_message
from host.service_spec import (
    SERVICE_NAME_PATTERN,
    AllowRule,
    BaseUrl,
    CacheSpec,
    HeaderName,
    HeaderValue,
    ServiceSpec,
    spec_of,
)
from host.state import HostState, host_state
from registry import NotFound, redacted_spec

SERVICE_ROUTE = "/services/<string:name>"
_NAME = re.compile(SERVICE_NAME_PATTERN)


class BadServiceName(HostError):
    status = 400
    code = "bad_service_name"


class StaticService(HostError):
    status = 409
    code = "static_service"


class ServiceOut(BaseModel):
    name: str
    # managed: in the registry, changed through this API; static: this host's own.
    source: Literal["managed", "static"]
    spec: dict[str, Any]
    updated_at: datetime | None = None


class ServiceList(BaseModel):
    services: list[ServiceOut]


class ServicePatch(BaseModel, extra="forbid"):
    """The fields to change; the others keep their values. `cache: null` stops caching."""

    url: BaseUrl | None = None
    timeout_ms: int | None = Field(default=None, ge=1, le=300_000)
    retries: int | None = Field(default=None, ge=0, le=5)
    max_response_bytes: int | None = Field(default=None, ge=1)
    headers: dict[HeaderName, HeaderValue] | None = Field(default=None, max_length=32)
    allow: list[AllowRule] | None = Field(default=None, max_length=256)
    cache: CacheSpec | None = None


def _checked_name(name: str) -> str:
    if not _NAME.match(name):
        raise BadServiceName(
            f"a service name is 1-63 lower-case letters, digits, '_' or '-', got {name!r}"
        )
    return name


def _writable(state: HostState, name: str) -> str:
    name = _checked_name(name)
    if state.services.is_static(name):
        raise StaticService(
            f"service {name!r} is given at this host's start (--backend/--catalogue): "
            "it cannot be changed here"
        )
    return name


@admin_api.get("/services")
@tag(["services"])
@validate_response(ServiceList)
async def list_services() -> ServiceList:
    """Every service: the registry's managed ones and this host's static ones."""
    admin_principal()
    state = host_state()
    managed = [
        _managed_out(record.name, dict(record.spec), record.updated_at)
        for record in await state.registry.list_services()
        if not state.services.is_static(record.name)
    ]
    static = [_static_out(state, service.name) for service in state.services.static_services()]
    return ServiceList(services=sorted([*managed, *static], key=lambda s: s.name))


@admin_api.get(SERVICE_ROUTE)
@tag(["services"])
@validate_response(ServiceOut)
async def get_service(name: str) -> ServiceOut:
    admin_principal()
    state = host_state()
    name = _checked_name(name)
    if state.services.is_static(name):
        return _static_out(state, name)
    record = await state.registry.get_service(name)
    return _managed_out(record.name, dict(record.spec), record.updated_at)


@admin_api.put(SERVICE_ROUTE)
@tag(["services"])
@validate_request(ServiceSpec)
@validate_response(ServiceOut)
async def put_service(name: str, data: ServiceSpec) -> ServiceOut:
    """Create a managed service or replace its spec; every host serves it within one refresh."""
    return await _store(name, data)


@admin_api.patch(SERVICE_ROUTE)
@tag(["services"])
@validate_request(ServicePatch)
@validate_response(ServiceOut)
async def patch_service(name: str, data: ServicePatch) -> ServiceOut:
    """Change some fields of a managed service."""
    state = host_state()
    name = _writable(state, name)
    current = dict((await state.registry.get_service(name)).spec)
    try:
        spec = ServiceSpec.model_validate({**current, **data.model_dump(exclude_unset=True)})
    except ValidationError as error:
        raise BadRequest(validation_message(error)) from None
    return await _store(name, spec)


@admin_api.delete(SERVICE_ROUTE)
@tag(["services"])
async def delete_service(name: str) -> tuple[str, int]:
    """Delete a managed service: scripts get `unknown-service` from the next refresh on."""
    caller = admin_principal()
    state = host_state()
    name = _writable(state, name)
    await state.registry.delete_service(name, actor=caller.name)
    await state.refresher.poll_once()
    return "", 204


async def _store(name: str, spec: ServiceSpec) -> ServiceOut:
    caller = admin_principal()
    state = host_state()
    name = _writable(state, name)
    record = await state.registry.put_service(name, spec.stored(), actor=caller.name)
    await state.refresher.poll_once()
    return _managed_out(record.name, dict(record.spec), record.updated_at)


def _managed_out(name: str, spec: dict[str, Any], updated_at: datetime) -> ServiceOut:
    return ServiceOut(name=name, source="managed", spec=redacted_spec(spec), updated_at=updated_at)


def _static_out(state: HostState, name: str) -> ServiceOut:
    service = state.services.current.get(name)
    if service is None:
        raise NotFound(f"no service {name!r}")
    return ServiceOut(name=name, source="static", spec=redacted_spec(spec_of(service)))
