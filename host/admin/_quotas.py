"""Quotas and kill switches: everyone may read their own, only admins change quotas."""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic.config import JsonDict
from quart_schema import tag, validate_request, validate_response

from host.admin._api import ENDPOINT_ROUTE, EndpointOut, admin_api, endpoint_out, target
from host.admin._auth import admin_principal, principal, principal_for
from host.admin._paths import check_namespace
from host.errors import HostError
from host.quotas import QUOTAS, check_overrides
from host.state import host_state
from registry import Quotas
from registry.models import merge_quotas


class BadQuota(HostError):
    status = 400
    code = "bad_quota"


# What the OpenAPI document says of each quota, from its declaration.
_QUOTA_SCHEMA: JsonDict = {
    "properties": {
        name: {
            "type": "integer",
            "minimum": spec.at_least,
            "maximum": spec.at_most,
            "description": spec.description,
        }
        for name, spec in QUOTAS.items()
    },
    "additionalProperties": False,
}


class QuotasIn(BaseModel):
    """Overrides for this layer; they replace the layer's previous ones ({} clears)."""

    quotas: dict[str, int] = Field(json_schema_extra=_QUOTA_SCHEMA)


class QuotasOut(BaseModel):
    scope: str
    overrides: dict[str, int]
    effective: dict[str, int]


class EnabledIn(BaseModel):
    enabled: bool


class NamespaceOut(BaseModel):
    namespace: str
    enabled: bool
    quotas: dict[str, int]


def _checked(data: QuotasIn) -> dict[str, int]:
    try:
        return check_overrides(data.quotas)
    except ValueError as error:
        raise BadQuota(str(error)) from None


def _effective(*layers: Quotas) -> dict[str, int]:
    return host_state().settings.default_quotas.resolve(merge_quotas(*layers)).as_mapping()


async def _refresh() -> None:
    await host_state().refresher.poll_once()


@admin_api.get("/quotas")
@tag(["quotas"])
@validate_response(QuotasOut)
async def get_default_quotas() -> QuotasOut:
    """The fleet-wide defaults every namespace and endpoint starts from."""
    principal()
    overrides = await host_state().registry.get_default_quotas()
    return QuotasOut(scope="defaults", overrides=dict(overrides), effective=_effective(overrides))


@admin_api.put("/quotas")
@tag(["quotas"])
@validate_request(QuotasIn)
@validate_response(QuotasOut)
async def put_default_quotas(data: QuotasIn) -> QuotasOut:
    caller = admin_principal()
    quotas = await host_state().registry.set_default_quotas(_checked(data), actor=caller.name)
    await _refresh()
    return QuotasOut(scope="defaults", overrides=dict(quotas), effective=_effective(quotas))


@admin_api.get("/namespaces/<string:namespace>")
@tag(["switches"])
@validate_response(NamespaceOut)
async def get_namespace(namespace: str) -> NamespaceOut:
    namespace = check_namespace(namespace)
    principal_for(namespace)
    found = await host_state().registry.get_namespace(namespace)
    return NamespaceOut(namespace=namespace, enabled=found.enabled, quotas=dict(found.quotas))


@admin_api.put("/namespaces/<string:namespace>/-/enabled")
@tag(["switches"])
@validate_request(EnabledIn)
@validate_response(NamespaceOut)
async def set_namespace_enabled(namespace: str, data: EnabledIn) -> NamespaceOut:
    """The namespace's kill switch: every endpoint in it answers 503 while it is off."""
    namespace = check_namespace(namespace)
    caller = principal_for(namespace)
    found = await host_state().registry.set_namespace_enabled(
        namespace, data.enabled, actor=caller.name
    )
    await _refresh()
    return NamespaceOut(namespace=namespace, enabled=found.enabled, quotas=dict(found.quotas))


@admin_api.get("/namespaces/<string:namespace>/-/quotas")
@tag(["quotas"])
@validate_response(QuotasOut)
async def get_namespace_quotas(namespace: str) -> QuotasOut:
    namespace = check_namespace(namespace)
    principal_for(namespace)
    registry = host_state().registry
    defaults, found = await registry.get_default_quotas(), await registry.get_namespace(namespace)
    return QuotasOut(
        scope=namespace, overrides=dict(found.quotas), effective=_effective(defaults, found.quotas)
    )


@admin_api.put("/namespaces/<string:namespace>/-/quotas")
@tag(["quotas"])
@validate_request(QuotasIn)
@validate_response(QuotasOut)
async def put_namespace_quotas(namespace: str, data: QuotasIn) -> QuotasOut:
    namespace = check_namespace(namespace)
    caller = admin_principal()
    registry = host_state().registry
    found = await registry.set_namespace_quotas(namespace, _checked(data), actor=caller.name)
    await _refresh()
    defaults = await registry.get_default_quotas()
    return QuotasOut(
        scope=namespace, overrides=dict(found.quotas), effective=_effective(defaults, found.quotas)
    )


@admin_api.get(ENDPOINT_ROUTE + "/-/quotas")
@tag(["quotas"])
@validate_response(QuotasOut)
async def get_endpoint_quotas(namespace: str, path: str) -> QuotasOut:
    namespace, path = target(namespace, path)
    principal_for(namespace)
    registry = host_state().registry
    endpoint = await registry.get_endpoint(namespace, path)
    effective = await registry.effective_quotas(namespace, path)
    return QuotasOut(
        scope=f"{namespace}{path}", overrides=dict(endpoint.quotas), effective=_effective(effective)
    )


@admin_api.put(ENDPOINT_ROUTE + "/-/quotas")
@tag(["quotas"])
@validate_request(QuotasIn)
@validate_response(QuotasOut)
async def put_endpoint_quotas(namespace: str, path: str, data: QuotasIn) -> QuotasOut:
    namespace, path = target(namespace, path)
    caller = admin_principal()
    registry = host_state().registry
    endpoint = await registry.set_endpoint_quotas(
        namespace, path, _checked(data), actor=caller.name
    )
    await _refresh()
    effective = await registry.effective_quotas(namespace, path)
    return QuotasOut(
        scope=f"{namespace}{path}", overrides=dict(endpoint.quotas), effective=_effective(effective)
    )


@admin_api.put(ENDPOINT_ROUTE + "/-/enabled")
@tag(["switches"])
@validate_request(EnabledIn)
@validate_response(EndpointOut)
async def set_endpoint_enabled(namespace: str, path: str, data: EnabledIn) -> EndpointOut:
    """The endpoint's kill switch: a disabled endpoint answers 503 with Retry-After."""
    namespace, path = target(namespace, path)
    caller = principal_for(namespace)
    endpoint = await host_state().registry.set_endpoint_enabled(
        namespace, path, data.enabled, actor=caller.name
    )
    await _refresh()
    return endpoint_out(endpoint)
