"""An endpoint's history: its own audit log (deploys, traffic changes, verdicts), every
file a version was built from, and version labels."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field
from quart_schema import tag, validate_querystring, validate_request, validate_response

from host.admin._api import (
    ENDPOINT_ROUTE,
    AuditList,
    NoSource,
    admin_api,
    audit_out,
    target,
)
from host.admin._auth import principal_for
from host.admin._inputs import VersionName
from host.admin._versions import resolve_version
from host.errors import HostError
from host.state import host_state
from registry import NotFound, Version

LABEL_PATTERN = r"^[A-Za-z][A-Za-z0-9._-]{0,63}$"
_LABEL = re.compile(LABEL_PATTERN)
_VERSION_LIKE = re.compile(r"^v[0-9]+$")
# What a version uploaded with its source only (before build records) calls its one file.
_SOURCE_NAMES = {"js": "script.js", "python": "script.py"}


class BadLabel(HostError):
    status = 400
    code = "bad_label"


class LogQuery(BaseModel):
    limit: int = Field(default=100, ge=1, le=1000)
    before: int | None = Field(default=None, ge=1, description="Events older than this seq.")


class FilesOut(BaseModel):
    version: str
    language: str
    entry: str
    files: dict[str, str]
    build: dict[str, Any] | None


class LabelsOut(BaseModel):
    labels: dict[str, str]


class LabelIn(BaseModel, extra="forbid"):
    version: VersionName


@admin_api.get(ENDPOINT_ROUTE + "/-/log")
@tag(["history"])
@validate_querystring(LogQuery)
@validate_response(AuditList)
async def endpoint_log(namespace: str, path: str, query_args: LogQuery) -> AuditList:
    """The endpoint's own history, newest first: versions, activations, traffic changes,
    canary verdicts and their ends, labels, switches and quotas."""
    namespace, path = target(namespace, path)
    principal_for(namespace)
    registry = host_state().registry
    await registry.get_endpoint(namespace, path)
    events = await registry.audit_log(
        namespace=namespace, path=path, limit=query_args.limit, before_seq=query_args.before
    )
    return AuditList(events=[audit_out(event) for event in events])


@admin_api.get(ENDPOINT_ROUTE + "/-/versions/<version>/files")
@tag(["history"])
@validate_response(FilesOut)
async def version_files(namespace: str, path: str, version: str) -> FilesOut:
    """Every source file a version (or label) was built from, and what built it."""
    namespace, path = target(namespace, path)
    principal_for(namespace)
    registry = host_state().registry
    found = await registry.get_version(
        namespace, path, await resolve_version(registry, namespace, path, version)
    )
    try:
        record = await registry.get_build(namespace, path, found.id)
    except NotFound:
        return _source_only(found)
    info = dict(record.info)
    return FilesOut(
        version=found.id,
        language=found.language,
        entry=str(info.get("entry", "")),
        files=dict(record.files),
        build=info,
    )


def _source_only(version: Version) -> FilesOut:
    if version.source is None:
        raise NoSource(f"version {version.id} was uploaded without source")
    name = _SOURCE_NAMES.get(version.language, "source.txt")
    return FilesOut(
        version=version.id,
        language=version.language,
        entry=name,
        files={name: version.source},
        build=None,
    )


@admin_api.get(ENDPOINT_ROUTE + "/-/labels")
@tag(["history"])
@validate_response(LabelsOut)
async def labels(namespace: str, path: str) -> LabelsOut:
    namespace, path = target(namespace, path)
    principal_for(namespace)
    return LabelsOut(labels=await host_state().registry.labels(namespace, path))


@admin_api.put(ENDPOINT_ROUTE + "/-/labels/<label>")
@tag(["history"])
@validate_request(LabelIn)
@validate_response(LabelsOut)
async def put_label(namespace: str, path: str, label: str, data: LabelIn) -> LabelsOut:
    """Point a label at a version (moving it if it named another); usable wherever a
    version is named."""
    namespace, path = target(namespace, path)
    caller = principal_for(namespace)
    registry = host_state().registry
    version = await resolve_version(registry, namespace, path, data.version)
    found = await registry.set_label(namespace, path, _checked(label), version, actor=caller.name)
    return LabelsOut(labels=found)


@admin_api.delete(ENDPOINT_ROUTE + "/-/labels/<label>")
@tag(["history"])
@validate_response(LabelsOut)
async def delete_label(namespace: str, path: str, label: str) -> LabelsOut:
    namespace, path = target(namespace, path)
    caller = principal_for(namespace)
    found = await host_state().registry.set_label(
        namespace, path, _checked(label), None, actor=caller.name
    )
    return LabelsOut(labels=found)


def _checked(label: str) -> str:
    if not _LABEL.match(label) or _VERSION_LIKE.match(label):
        raise BadLabel(
            "a label is 1-64 letters, digits or '._-', starting with a letter,"
            " and does not look like a version id (v7)"
        )
    return label
