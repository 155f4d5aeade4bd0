"""What the registry stores: endpoints, their versions, settings and the event history.

Every model is a frozen dataclass; the mappings inside are read-only views,
so a model handed out by a registry cannot be changed behind its back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Literal, TypeAlias

ModuleHash: TypeAlias = str
"""sha256 of a module's bytes, 64 lower-case hex digits: its name in the registry."""
Fingerprint: TypeAlias = str
"""Identifies the engine build and settings a precompiled artifact is valid for."""
VersionId: TypeAlias = str
"""`v1`, `v2`, ... numbered per endpoint in upload order; never reused."""
Quotas: TypeAlias = Mapping[str, int]
"""Quota name -> value; the names mean something to the host, not to the registry."""
Config: TypeAlias = Mapping[str, str]
Details: TypeAlias = Mapping[str, object]
"""JSON-compatible facts about one change."""

Language: TypeAlias = Literal["js", "python", "wasm", "javy"]
LANGUAGES: frozenset[str] = frozenset({"js", "python", "wasm", "javy"})


class Action(StrEnum):
    """What a change did; recorded in the audit log and the change feed."""

    ENDPOINT_CREATED = "endpoint.created"
    ENDPOINT_UPDATED = "endpoint.updated"
    ENDPOINT_DELETED = "endpoint.deleted"
    ENDPOINT_ENABLED = "endpoint.enabled"
    ENDPOINT_DISABLED = "endpoint.disabled"
    ENDPOINT_QUOTAS_SET = "endpoint.quotas_set"
    VERSION_ADDED = "version.added"
    VERSION_ACTIVATED = "version.activated"
    NAMESPACE_ENABLED = "namespace.enabled"
    NAMESPACE_DISABLED = "namespace.disabled"
    NAMESPACE_QUOTAS_SET = "namespace.quotas_set"
    DEFAULT_QUOTAS_SET = "defaults.quotas_set"
    SERVICE_CREATED = "service.created"
    SERVICE_UPDATED = "service.updated"
    SERVICE_DELETED = "service.deleted"


# Changes to the backend service catalogue, not to any endpoint.
CATALOGUE_ACTIONS = frozenset(
    {Action.SERVICE_CREATED, Action.SERVICE_UPDATED, Action.SERVICE_DELETED}
)


def frozen_map(mapping: Mapping[str, object] | None) -> MappingProxyType[str, object]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class Endpoint:
    namespace: str
    path: str
    methods: frozenset[str]
    config: Config
    quotas: Quotas
    enabled: bool
    active_version: VersionId | None
    created_at: datetime
    updated_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "methods", frozenset(self.methods))
        object.__setattr__(self, "config", MappingProxyType(dict(self.config)))
        object.__setattr__(self, "quotas", MappingProxyType(dict(self.quotas)))


@dataclass(frozen=True, slots=True)
class Version:
    """One uploaded module or bundle of an endpoint. Versions never change once added."""

    id: VersionId
    namespace: str
    path: str
    language: Language
    module_hash: ModuleHash
    author: str
    message: str
    created_at: datetime
    source: str | None = None
    # The shared runtime a bundle runs on (its module hash); None for a module
    # that runs by itself (a component or a Javy module).
    runtime: ModuleHash | None = None


@dataclass(frozen=True, slots=True)
class NamespaceSettings:
    """Overrides for every endpoint of a namespace; one never configured has the defaults."""

    namespace: str
    enabled: bool = True
    quotas: Quotas = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "quotas", MappingProxyType(dict(self.quotas)))


REDACTED = "<redacted>"


def redacted_spec(spec: Mapping[str, object]) -> dict[str, object]:
    """A service spec fit to show or record: the values of its headers replaced."""
    headers = spec.get("headers")
    if not isinstance(headers, Mapping):
        return dict(spec)
    return {**spec, "headers": dict.fromkeys(headers, REDACTED)}


@dataclass(frozen=True, slots=True)
class ServiceRecord:
    """A backend service of the managed catalogue: its name and its spec, a JSON object
    whose meaning is the host's. The values of `spec["headers"]` are secrets."""

    name: str
    spec: Details
    updated_at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "spec", frozen_map(self.spec))


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One change, with who made it. `namespace` is None for a global change,
    `path` is None for a namespace-wide or global one."""

    seq: int
    at: datetime
    actor: str
    action: Action
    namespace: str | None
    path: str | None
    details: Details

    def __post_init__(self) -> None:
        object.__setattr__(self, "details", frozen_map(self.details))


@dataclass(frozen=True, slots=True)
class Change:
    """An entry of the change feed hosts poll: which endpoint (or scope) to reload.

    `namespace` None means every endpoint; `path` None means every endpoint of
    `namespace`.
    """

    seq: int
    at: datetime
    action: Action
    namespace: str | None
    path: str | None

    @property
    def is_global(self) -> bool:
        return self.namespace is None

    @property
    def is_namespace_wide(self) -> bool:
        return self.namespace is not None and self.path is None

    @property
    def is_catalogue(self) -> bool:
        """A change to the service catalogue: it touches no endpoint's own settings."""
        return self.action in CATALOGUE_ACTIONS


def merge_quotas(*layers: Quotas) -> dict[str, int]:
    """Later layers win: defaults, then namespace, then endpoint."""
    merged: dict[str, int] = {}
    for layer in layers:
        merged.update(layer)
    return merged
