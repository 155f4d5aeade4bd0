"""Routes of the management API; the OpenAPI document is generated from them by quart-schema."""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from quart import Blueprint, Response, g, request
from quart_schema import DataSource, tag, validate_querystring, validate_request, validate_response
from quart_schema.pydantic import File

from host.admin._auth import principal, principal_for
from host.admin._inputs import Config, Message, Method, NamespaceName, Source, VersionName
from host.admin._paths import check_namespace, normalise_path
from host.admin._scratch import run_scratch
from host.admin._uploads import accept_upload, namespace_quotas
from host.admin._versions import promote_if_candidate, resolve_version, two_decimals
from host.build_inputs import MAX_FILES_BYTES, BuildInputs
from host.errors import Forbidden, HostError, TooLarge
from host.http_errors import validation_message
from host.logs import get_logger
from host.routing import version_kind
from host.state import host_state
from registry import AuditEvent, Endpoint, Version

admin_api = Blueprint("admin", __name__, url_prefix="/admin/v1")
log = get_logger("scripthost.admin")

# An explicit `string:` converter: quart-schema would otherwise merge both
# parameters into one when it writes the OpenAPI path.
ENDPOINT_ROUTE = "/endpoints/<string:namespace>/<path:path>"


class NoSource(HostError):
    status = 404
    code = "no_source"


class EndpointIn(BaseModel):
    methods: list[Method] = Field(default_factory=lambda: ["GET"], min_length=1, max_length=16)
    config: Config = Field(default_factory=dict)


class EndpointOut(BaseModel):
    namespace: str
    path: str
    methods: list[str]
    config: dict[str, str]
    enabled: bool
    active_version: str | None
    created_at: datetime
    updated_at: datetime


class EndpointList(BaseModel):
    endpoints: list[EndpointOut]


class VersionOut(BaseModel):
    id: str
    language: str
    module_hash: str
    author: str
    message: str
    created_at: datetime
    has_source: bool
    active: bool = False
    labels: list[str] = Field(default_factory=list)
    build: dict[str, Any] | None = Field(
        default=None, description="What it was built from: entry, SDK, runtime, git, files."
    )
    # The SHA-256 of the runtime a bundle runs on; null for a module that runs by itself.
    runtime: str | None = None


class VersionList(BaseModel):
    versions: list[VersionOut]


class UploadForm(BaseModel):
    module: File
    source: Source | None = None
    language: str | None = Field(default=None, max_length=16)
    message: Message = ""
    activate: bool = True
    build: File | None = Field(
        default=None, description="JSON: the build's inputs (scripthost deploy sends them)."
    )
    canary: float | None = Field(
        default=None,
        ge=0,
        le=100,
        description="Make the new version the canary for this percentage of devices"
        " instead of activating it.",
    )


class UploadOut(BaseModel):
    version: str
    module_hash: str
    active: bool


class ActivateIn(BaseModel):
    version: VersionName


class SourceOut(BaseModel):
    version: str
    language: str
    source: str


class AuditOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    action: str
    namespace: str | None
    path: str | None
    details: dict[str, object]


class AuditList(BaseModel):
    events: list[AuditOut]


class AuditQuery(BaseModel):
    namespace: NamespaceName | None = None
    limit: int = Field(default=100, ge=1, le=1000)


@admin_api.before_request
async def authenticate() -> None:
    """Every management call needs a valid token, checked before its body is read."""
    principal()


@admin_api.after_request
async def log_management_action(response: Response) -> Response:
    """Every change through the API, refused or not, with who asked."""
    if request.method not in {"GET", "HEAD", "OPTIONS"}:
        log.info(
            "management action",
            method=request.method,
            path=request.path,
            status=response.status_code,
            actor=g.get("actor"),
        )
    return response


def endpoint_out(endpoint: Endpoint) -> EndpointOut:
    return EndpointOut(
        namespace=endpoint.namespace,
        path=endpoint.path,
        methods=sorted(endpoint.methods),
        config=dict(endpoint.config),
        enabled=endpoint.enabled,
        active_version=endpoint.active_version,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def version_out(
    version: Version,
    active_version: str | None,
    labels: dict[str, str] | None = None,
    build: dict[str, Any] | None = None,
) -> VersionOut:
    return VersionOut(
        id=version.id,
        language=version.language,
        module_hash=version.module_hash,
        author=version.author,
        message=version.message,
        created_at=version.created_at,
        has_source=version.source is not None,
        active=version.id == active_version,
        labels=sorted(label for label, named in (labels or {}).items() if named == version.id),
        build=build,
        runtime=version.runtime,
    )


def target(namespace: str, path: str) -> tuple[str, str]:
    return check_namespace(namespace), normalise_path(path)


@admin_api.get("/endpoints")
@tag(["endpoints"])
@validate_response(EndpointList)
async def list_endpoints() -> EndpointList:
    """Endpoints the caller may see: all for admins, their namespaces for teams."""
    caller = principal()
    endpoints = await host_state().registry.list_endpoints()
    return EndpointList(
        endpoints=[endpoint_out(e) for e in endpoints if caller.may_touch(e.namespace)]
    )


@admin_api.put(ENDPOINT_ROUTE)
@tag(["endpoints"])
@validate_request(EndpointIn)
@validate_response(EndpointOut)
async def put_endpoint(namespace: str, path: str, data: EndpointIn) -> EndpointOut:
    """Create an endpoint or update its methods and configuration."""
    namespace, path = target(namespace, path)
    caller = principal_for(namespace)
    state = host_state()
    endpoint = await state.registry.put_endpoint(
        namespace,
        path,
        methods=sorted(set(data.methods)),
        config=data.config,
        actor=caller.name,
        max_endpoints=(await namespace_quotas(namespace)).max_endpoints,
    )
    await state.refresher.poll_once()
    return endpoint_out(endpoint)


@admin_api.get(ENDPOINT_ROUTE)
@tag(["endpoints"])
@validate_response(EndpointOut)
async def get_endpoint(namespace: str, path: str) -> EndpointOut:
    namespace, path = target(namespace, path)
    principal_for(namespace)
    return endpoint_out(await host_state().registry.get_endpoint(namespace, path))


@admin_api.delete(ENDPOINT_ROUTE)
@tag(["endpoints"])
async def delete_endpoint(namespace: str, path: str) -> tuple[str, int]:
    """Delete an endpoint: devices get 404 from the next route refresh on."""
    namespace, path = target(namespace, path)
    caller = principal_for(namespace)
    state = host_state()
    await state.registry.delete_endpoint(namespace, path, actor=caller.name)
    await state.refresher.poll_once()
    return "", 204


@admin_api.get(ENDPOINT_ROUTE + "/-/versions")
@tag(["versions"])
@validate_response(VersionList)
async def list_versions(namespace: str, path: str) -> VersionList:
    """Versions of an endpoint, newest first."""
    namespace, path = target(namespace, path)
    principal_for(namespace)
    registry = host_state().registry
    endpoint = await registry.get_endpoint(namespace, path)
    versions = await registry.list_versions(namespace, path)
    labels = await registry.labels(namespace, path)
    builds = await registry.list_builds(namespace, path)
    return VersionList(
        versions=[
            version_out(v, endpoint.active_version, labels, _without_files(builds.get(v.id)))
            for v in versions
        ]
    )


def _without_files(info: Any) -> dict[str, Any] | None:
    """Build info for a listing: the file names, not each file's digest."""
    if info is None:
        return None
    return {**info, "files": sorted(info.get("files") or {})}


@admin_api.post(ENDPOINT_ROUTE + "/-/versions")
@tag(["versions"])
@validate_request(UploadForm, source=DataSource.FORM_MULTIPART)
@validate_response(UploadOut, 201)
async def upload_version(namespace: str, path: str, data: UploadForm) -> tuple[UploadOut, int]:
    """Upload a module as a new version; it is compiled and cached before it can be activated."""
    namespace, path = target(namespace, path)
    caller = principal_for(namespace)
    version = await accept_upload(
        namespace,
        path,
        module=data.module.read(),
        source=data.source,
        language=data.language,
        message=data.message,
        activate=data.activate,
        actor=caller.name,
        build=None if data.build is None else build_inputs(data.build.read()),
        canary=None if data.canary is None else two_decimals(data.canary),
    )
    active = data.activate and data.canary is None
    out = UploadOut(version=version.id, module_hash=version.module_hash, active=active)
    return out, 201


class ScratchForm(BaseModel):
    module: File = Field(description="A bundle (`scripthost build SCRIPT`).")
    request: str = Field(
        default="{}",
        max_length=1_100_000,
        description="JSON: {method, path, query, headers, body or body_base64}, all optional.",
    )


@admin_api.post(ENDPOINT_ROUTE + "/-/scratch")
@tag(["versions"])
@validate_request(ScratchForm, source=DataSource.FORM_MULTIPART)
async def scratch_run(namespace: str, path: str, data: ScratchForm) -> dict[str, Any]:
    """Run a bundle once as this endpoint's version would (its limits, config and
    services), without storing anything; the answer is `scripthost invoke`'s JSON."""
    namespace, path = target(namespace, path)
    caller = principal_for(namespace)
    return await run_scratch(namespace, path, data.module.read(), data.request, caller.name)


class BadBuild(HostError):
    status = 400
    code = "bad_build"


def build_inputs(document: bytes) -> BuildInputs:
    """The build inputs an upload carries, refused whole if any part is out of bounds."""
    # JSON escaping can double the files' size, and no more.
    if len(document) > 2 * MAX_FILES_BYTES + 65_536:
        raise TooLarge(f"a build's files add up to at most {MAX_FILES_BYTES} bytes")
    try:
        return BuildInputs.model_validate(json.loads(document))
    except ValueError as error:
        message = validation_message(error) if isinstance(error, ValidationError) else str(error)
        raise BadBuild(f"build: {message}") from None


@admin_api.get(ENDPOINT_ROUTE + "/-/versions/<version>/source")
@tag(["versions"])
@validate_response(SourceOut)
async def version_source(namespace: str, path: str, version: str) -> SourceOut:
    namespace, path = target(namespace, path)
    principal_for(namespace)
    registry = host_state().registry
    found = await registry.get_version(
        namespace, path, await resolve_version(registry, namespace, path, version)
    )
    if found.source is None:
        raise NoSource(f"version {version} was uploaded without source")
    return SourceOut(version=found.id, language=found.language, source=found.source)


@admin_api.post(ENDPOINT_ROUTE + "/-/activate")
@tag(["versions"])
@validate_request(ActivateIn)
@validate_response(EndpointOut)
async def activate_version(namespace: str, path: str, data: ActivateIn) -> EndpointOut:
    """Make any version (or label) of the endpoint the active one (a rollback when it is
    older); activating a running canary's candidate promotes it."""
    namespace, path = target(namespace, path)
    caller = principal_for(namespace)
    state = host_state()
    version_id = await resolve_version(state.registry, namespace, path, data.version)
    version = await state.registry.get_version(namespace, path, version_id)
    # Warm this host before traffic moves; other hosts warm on the change feed.
    await state.loader.get(version.module_hash, version_kind(version))
    if await promote_if_candidate(state.registry, namespace, path, version_id, caller.name):
        endpoint = await state.registry.get_endpoint(namespace, path)
    else:
        endpoint = await state.registry.activate(namespace, path, version_id, actor=caller.name)
    await state.refresher.poll_once()
    return endpoint_out(endpoint)


@admin_api.get("/audit")
@tag(["audit"])
@validate_querystring(AuditQuery)
@validate_response(AuditList)
async def audit_log(query_args: AuditQuery) -> AuditList:
    """Every change, newest first, with who made it."""
    caller = principal()
    if query_args.namespace is not None and not caller.may_touch(query_args.namespace):
        raise Forbidden(f"{caller.name} may not read namespace {query_args.namespace!r}")
    events = await host_state().registry.audit_log(
        namespace=query_args.namespace, limit=query_args.limit
    )
    return AuditList(
        events=[
            audit_out(e)
            for e in events
            if caller.admin or (e.namespace and caller.may_touch(e.namespace))
        ]
    )


class CacheOut(BaseModel):
    modules: int
    hits: int
    misses: int
    local_loads: int
    registry_loads: int
    compiles: int
    # Bundles in memory, loaded from the registry, and prepared by a runtime here.
    bundles: int = 0
    bundle_loads: int = 0
    prepares: int = 0


class HostOut(BaseModel):
    engine_fingerprint: str
    route_seq: int
    endpoints: int
    registry_reachable: bool
    cache: CacheOut
    sandbox_in_flight: int
    open_breakers: list[str]
    # Refusals this process holds before sending them, and those it sent at
    # once because it already held as many as it may.
    held_refusals: int = 0
    unpaced_refusals: int = 0
    # The process that answered: with `serve --processes N`, each answers for itself.
    pid: int


class WhoAmI(BaseModel):
    name: str
    admin: bool
    namespaces: list[str]


@admin_api.get("/whoami")
@tag(["auth"])
@validate_response(WhoAmI)
async def whoami() -> WhoAmI:
    """Who the token belongs to: what the console shows and lets the caller edit."""
    caller = principal()
    return WhoAmI(name=caller.name, admin=caller.admin, namespaces=sorted(caller.namespaces))


@admin_api.get("/host")
@tag(["host"])
@validate_response(HostOut)
async def host_info() -> HostOut:
    """This process's engine, route table and module cache (each process of each host answers
    for itself).

    A team sees the number of its own endpoints and only its own open breakers.
    """
    caller = principal()
    state = host_state()
    stats = state.cache.stats
    return HostOut(
        engine_fingerprint=state.engine.fingerprint,
        route_seq=state.routes.seq,
        endpoints=state.routes.count(caller.may_touch),
        registry_reachable=state.routes.last_refresh_ok,
        cache=CacheOut(
            modules=len(state.cache),
            hits=stats.hits,
            misses=stats.misses,
            local_loads=stats.local_loads,
            registry_loads=stats.registry_loads,
            compiles=stats.compiles,
            bundles=len(state.loader),
            bundle_loads=state.loader.stats.bundle_loads,
            prepares=state.loader.stats.prepares,
        ),
        sandbox_in_flight=state.gate.alive + state.gate.waiting,
        open_breakers=[
            f"{ns}{path}" for ns, path in state.guards.open_breakers() if caller.may_touch(ns)
        ],
        held_refusals=state.guards.pacer.held,
        unpaced_refusals=state.guards.pacer.unpaced,
        pid=os.getpid(),
    )


def audit_out(event: AuditEvent) -> AuditOut:
    return AuditOut(
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        action=event.action,
        namespace=event.namespace,
        path=event.path,
        details=dict(event.details),
    )


def request_id() -> str | None:
    return request.headers.get("x-request-id")
