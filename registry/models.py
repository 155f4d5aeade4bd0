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
    TRAFFIC_SET = "traffic.set"
    CANARY_VERDICT = "canary.verdict"
    CANARY_PROMOTED = "canary.promoted"
    CANARY_ABORTED = "canary.aborted"
    CANARY_ROLLED_BACK = "canary.rolled_back"
    VERSION_LABELLED = "version.labelled"
    VERSION_UNLABELLED = "version.unlabelled"


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


DEFAULT_STICKY_HEADER = "x-device-id"


class CanaryEnd(StrEnum):
    """How a canary ended, and the audit action that records it."""

    PROMOTED = Action.CANARY_PROMOTED.value
    ABORTED = Action.CANARY_ABORTED.value
    ROLLED_BACK = Action.CANARY_ROLLED_BACK.value


@dataclass(frozen=True, slots=True)
class ClassRule:
    """Devices whose request header `header` has one of `values` get `version`."""

    header: str
    values: tuple[str, ...]
    version: VersionId

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))


@dataclass(frozen=True, slots=True)
class TrafficPolicy:
    """Who gets which version of an endpoint, besides its active (stable) version.

    `candidate` serves `percent` of the devices, chosen by a hash of the
    `sticky_header`; `rules` pin classes of devices to a version, the first
    matching rule winning. `analysis` configures the canary analysis; its
    meaning is the host's.
    """

    candidate: VersionId | None = None
    percent: float = 0.0
    rules: tuple[ClassRule, ...] = ()
    sticky_header: str = DEFAULT_STICKY_HEADER
    analysis: Details = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rules", tuple(self.rules))
        object.__setattr__(self, "analysis", frozen_map(self.analysis))


@dataclass(frozen=True, slots=True)
class Traffic:
    """An endpoint's traffic policy and the state of its canary.

    `canary_id` names one run of a candidate: a new one each time a candidate
    is set, kept while only its percentage changes, so a verdict on one run
    never applies to the next. `verdict` is the canary analysis' last verdict
    on the running canary, or on the last one after it ended.
    """

    namespace: str
    path: str
    policy: TrafficPolicy = field(default_factory=TrafficPolicy)
    canary_id: str | None = None
    canary_started_at: datetime | None = None
    verdict: Details | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.verdict is not None:
            object.__setattr__(self, "verdict", frozen_map(self.verdict))


@dataclass(frozen=True, slots=True)
class CanaryReport:
    """One host's counts for one canary run; its meaning is the host's."""

    reporter: str
    report: Details
    at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "report", frozen_map(self.report))


@dataclass(frozen=True, slots=True)
class BuildRecord:
    """What a version was built from: its source files (relative path -> text) and
    facts about the build (entry file, SDK and runtime versions, git commit),
    whose meaning is the host's."""

    info: Details
    files: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "info", frozen_map(self.info))
        object.__setattr__(self, "files", MappingProxyType(dict(self.files)))


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
