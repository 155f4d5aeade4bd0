"""The registry's one checking layer: every public method that takes arguments checks them
here, then calls a narrow storage primitive that each implementation provides.

So every backend refuses the same things with the same messages, and a new
kind of record (or a new backend) is written once per backend, as a
primitive that receives checked, encoded values and does only storage:
reading, deciding inside its own transaction or write lease, writing.
Reads without arguments to check go to the backends directly.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from registry import _change_control, _checks
from registry.errors import NotFound
from registry.models import (
    Action,
    AuditEvent,
    BuildRecord,
    CanaryEnd,
    Change,
    Config,
    Details,
    Endpoint,
    Fingerprint,
    Language,
    ModuleHash,
    NamespaceSettings,
    Quotas,
    ServiceRecord,
    Traffic,
    TrafficPolicy,
    Version,
    VersionId,
)


@dataclass(frozen=True, slots=True)
class NewVersion:
    """A version to add, checked; its number is the storage's to give."""

    namespace: str
    path: str
    language: Language
    module_hash: ModuleHash
    author: str
    message: str
    source: str | None
    runtime: ModuleHash | None
    build: tuple[str, str] | None
    """The build record's info and files as JSON, or None."""


class CheckedRegistry(ABC):
    """The public Registry methods that take arguments, over abstract storage primitives."""

    # Endpoints

    async def put_endpoint(
        self,
        namespace: str,
        path: str,
        *,
        methods: Iterable[str],
        config: Config | None = None,
        actor: str,
        max_endpoints: int | None = None,
    ) -> Endpoint:
        namespace, path = _checks.target(namespace, path)
        wanted_methods, wanted_config = sorted(_checks.methods(methods)), _checks.config(config)
        _checks.actor(actor)
        _checks.limit(max_endpoints, "max_endpoints")
        columns = {
            "methods": _checks.encoded(wanted_methods),
            "config": _checks.encoded(wanted_config),
        }
        details: Details = {"methods": wanted_methods, "config": wanted_config}
        change = EndpointChange(columns, Action.ENDPOINT_UPDATED, details)
        return await self._put_endpoint(namespace, path, change, actor, max_endpoints)

    async def delete_endpoint(self, namespace: str, path: str, *, actor: str) -> None:
        await self._delete_endpoint(namespace, path, _checks.actor(actor))

    async def set_endpoint_enabled(
        self, namespace: str, path: str, enabled: bool, *, actor: str
    ) -> Endpoint:
        _checks.actor(actor)
        action = Action.ENDPOINT_ENABLED if enabled else Action.ENDPOINT_DISABLED
        change = EndpointChange({"enabled": bool(enabled)}, action, {})
        return await self._update_endpoint(namespace, path, change, actor)

    async def set_endpoint_quotas(
        self, namespace: str, path: str, quotas: Quotas, *, actor: str
    ) -> Endpoint:
        wanted = _checks.quotas(quotas)
        _checks.actor(actor)
        columns = {"quotas": _checks.encoded(wanted)}
        change = EndpointChange(columns, Action.ENDPOINT_QUOTAS_SET, {"quotas": wanted})
        return await self._update_endpoint(namespace, path, change, actor)

    # Versions

    async def add_version(
        self,
        namespace: str,
        path: str,
        *,
        language: Language,
        module_hash: ModuleHash,
        author: str,
        message: str = "",
        source: str | None = None,
        build: BuildRecord | None = None,
        runtime: ModuleHash | None = None,
    ) -> Version:
        namespace, path = _checks.target(namespace, path)
        version = NewVersion(
            namespace,
            path,
            _checks.language(language),
            _checks.module_hash(module_hash),
            _checks.name(author, "author"),
            message,
            source,
            runtime,
            _change_control.build(build),
        )
        for stored in (module_hash, *_checks.optional_runtime(runtime)):
            if not await self.has_module(stored):
                raise NotFound(f"no module {stored}: put_module it first")
        return await self._add_version(version)

    async def get_version(self, namespace: str, path: str, version_id: VersionId) -> Version:
        return await self._get_version(namespace, path, _checks.version_number(version_id))

    async def activate(
        self, namespace: str, path: str, version_id: VersionId, *, actor: str
    ) -> Endpoint:
        number = _checks.version_number(version_id)
        return await self._activate(namespace, path, number, _checks.actor(actor))

    # Namespace and global settings

    async def get_namespace(self, namespace: str) -> NamespaceSettings:
        return await self._get_namespace(_checks.name(namespace, "namespace"))

    async def set_namespace_enabled(
        self, namespace: str, enabled: bool, *, actor: str
    ) -> NamespaceSettings:
        _checks.name(namespace, "namespace")
        return await self._set_namespace(namespace, _checks.actor(actor), enabled, None)

    async def set_namespace_quotas(
        self, namespace: str, quotas: Quotas, *, actor: str
    ) -> NamespaceSettings:
        _checks.name(namespace, "namespace")
        wanted = _checks.quotas(quotas)
        return await self._set_namespace(namespace, _checks.actor(actor), None, wanted)

    async def set_default_quotas(self, quotas: Quotas, *, actor: str) -> Quotas:
        wanted = _checks.quotas(quotas)
        return await self._set_default_quotas(wanted, _checks.actor(actor))

    # The managed service catalogue

    async def put_service(
        self, name: str, spec: Mapping[str, object], *, actor: str
    ) -> ServiceRecord:
        _checks.service_name(name)
        wanted, encoded = _checks.service_spec(spec)
        return await self._put_service(name, wanted, encoded, _checks.actor(actor))

    async def delete_service(self, name: str, *, actor: str) -> None:
        await self._delete_service(name, _checks.actor(actor))

    # Change control

    async def set_traffic(
        self, namespace: str, path: str, policy: TrafficPolicy, *, actor: str
    ) -> Traffic:
        wanted, encoded = _change_control.policy(policy)
        return await self._set_traffic(namespace, path, wanted, encoded, _checks.actor(actor))

    async def end_canary(
        self,
        namespace: str,
        path: str,
        *,
        canary_id: str,
        outcome: CanaryEnd,
        actor: str,
        verdict: Details | None = None,
    ) -> Traffic:
        outcome, encoded = _change_control.canary_end(canary_id, outcome, actor, verdict)
        return await self._end_canary(namespace, path, canary_id, outcome, actor, encoded)

    async def record_verdict(
        self, namespace: str, path: str, *, canary_id: str, verdict: Details, actor: str
    ) -> Traffic:
        _change_control.canary_id(canary_id)
        _checks.actor(actor)
        encoded = _change_control.details_of(
            verdict, "a verdict", _change_control.MAX_VERDICT_BYTES
        )
        assert encoded is not None
        return await self._record_verdict(namespace, path, canary_id, encoded, actor)

    async def put_canary_report(
        self, namespace: str, path: str, *, canary_id: str, reporter: str, report: Details
    ) -> None:
        namespace, path = _checks.target(namespace, path)
        _change_control.canary_id(canary_id)
        _change_control.reporter(reporter)
        encoded = _change_control.details_of(
            report, "a canary report", _change_control.MAX_REPORT_BYTES
        )
        assert encoded is not None
        await self._put_canary_report(namespace, path, canary_id, reporter, encoded)

    async def set_label(
        self, namespace: str, path: str, label: str, version_id: VersionId | None, *, actor: str
    ) -> dict[str, VersionId]:
        _change_control.label(label)
        number = None if version_id is None else _checks.version_number(version_id)
        return await self._set_label(namespace, path, label, number, _checks.actor(actor))

    async def get_build(self, namespace: str, path: str, version_id: VersionId) -> BuildRecord:
        return await self._get_build(namespace, path, _checks.version_number(version_id))

    # Content-addressed modules and precompiled artifacts

    async def put_module(self, data: bytes) -> ModuleHash:
        return await self._put_module(bytes(data))

    async def get_module(self, module_hash: ModuleHash) -> bytes:
        return await self._get_module(_checks.module_hash(module_hash))

    async def has_module(self, module_hash: ModuleHash) -> bool:
        return await self._has_module(_checks.module_hash(module_hash))

    async def put_artifact(
        self, module_hash: ModuleHash, fingerprint: Fingerprint, data: bytes
    ) -> None:
        key = _checks.module_hash(module_hash), _checks.fingerprint(fingerprint)
        await self._put_artifact(*key, bytes(data))

    async def get_artifact(self, module_hash: ModuleHash, fingerprint: Fingerprint) -> bytes | None:
        key = _checks.module_hash(module_hash), _checks.fingerprint(fingerprint)
        return await self._get_artifact(*key)

    async def has_artifact(self, module_hash: ModuleHash, fingerprint: Fingerprint) -> bool:
        key = _checks.module_hash(module_hash), _checks.fingerprint(fingerprint)
        return await self._has_artifact(*key)

    # Leases

    async def try_lease(self, key: str, holder: str, ttl_seconds: float) -> bool:
        _checks.name(key, "lease key")
        _checks.name(holder, "lease holder")
        _checks.positive(ttl_seconds, "ttl_seconds")
        return await self._try_lease(key, holder, ttl_seconds)

    # History

    async def audit_log(
        self,
        *,
        namespace: str | None = None,
        limit: int = 100,
        before_seq: int | None = None,
        path: str | None = None,
    ) -> list[AuditEvent]:
        _checks.positive(limit, "limit")
        return await self._audit_log(namespace, path, limit, before_seq)

    async def changes_since(self, seq: int, limit: int = 1000) -> list[Change]:
        _checks.positive(limit, "limit")
        return await self._changes_since(seq, limit)

    # The storage primitives: arguments arrive checked (names non-empty, version
    # ids as numbers, JSON encoded), each call is one transaction or one write
    # lease, and each mutation records its own audit event and change.

    @abstractmethod
    async def _put_endpoint(
        self, namespace: str, path: str, change: EndpointChange, actor: str, limit: int | None
    ) -> Endpoint:
        """Create the endpoint with the change's methods and config (ENDPOINT_CREATED, with
        the change's details) or, if it exists, make the change."""

    @abstractmethod
    async def _delete_endpoint(self, namespace: str, path: str, actor: str) -> None: ...

    @abstractmethod
    async def _update_endpoint(
        self, namespace: str, path: str, change: EndpointChange, actor: str
    ) -> Endpoint:
        """Set some columns; record the change only if one of them differs."""

    @abstractmethod
    async def _add_version(self, version: NewVersion) -> Version: ...

    @abstractmethod
    async def _get_version(self, namespace: str, path: str, number: int) -> Version: ...

    @abstractmethod
    async def _activate(self, namespace: str, path: str, number: int, actor: str) -> Endpoint: ...

    @abstractmethod
    async def _get_namespace(self, namespace: str) -> NamespaceSettings: ...

    @abstractmethod
    async def _set_namespace(
        self, namespace: str, actor: str, enabled: bool | None, quotas: dict[str, int] | None
    ) -> NamespaceSettings: ...

    @abstractmethod
    async def _set_default_quotas(self, quotas: dict[str, int], actor: str) -> Quotas: ...

    @abstractmethod
    async def _put_service(
        self, name: str, spec: dict[str, object], encoded: str, actor: str
    ) -> ServiceRecord: ...

    @abstractmethod
    async def _delete_service(self, name: str, actor: str) -> None: ...

    @abstractmethod
    async def _set_traffic(
        self, namespace: str, path: str, policy: TrafficPolicy, encoded: str, actor: str
    ) -> Traffic: ...

    @abstractmethod
    async def _end_canary(
        self,
        namespace: str,
        path: str,
        canary_id: str,
        outcome: CanaryEnd,
        actor: str,
        verdict: str | None,
    ) -> Traffic: ...

    @abstractmethod
    async def _record_verdict(
        self, namespace: str, path: str, canary_id: str, verdict: str, actor: str
    ) -> Traffic: ...

    @abstractmethod
    async def _put_canary_report(
        self, namespace: str, path: str, canary_id: str, reporter: str, report: str
    ) -> None: ...

    @abstractmethod
    async def _set_label(
        self, namespace: str, path: str, label: str, number: int | None, actor: str
    ) -> dict[str, VersionId]: ...

    @abstractmethod
    async def _get_build(self, namespace: str, path: str, number: int) -> BuildRecord: ...

    @abstractmethod
    async def _put_module(self, data: bytes) -> ModuleHash: ...

    @abstractmethod
    async def _get_module(self, module_hash: ModuleHash) -> bytes: ...

    @abstractmethod
    async def _has_module(self, module_hash: ModuleHash) -> bool: ...

    @abstractmethod
    async def _put_artifact(
        self, module_hash: ModuleHash, fingerprint: Fingerprint, data: bytes
    ) -> None: ...

    @abstractmethod
    async def _get_artifact(
        self, module_hash: ModuleHash, fingerprint: Fingerprint
    ) -> bytes | None: ...

    @abstractmethod
    async def _has_artifact(self, module_hash: ModuleHash, fingerprint: Fingerprint) -> bool: ...

    @abstractmethod
    async def _try_lease(self, key: str, holder: str, ttl_seconds: float) -> bool: ...

    @abstractmethod
    async def _audit_log(
        self, namespace: str | None, path: str | None, limit: int, before_seq: int | None
    ) -> list[AuditEvent]: ...

    @abstractmethod
    async def _changes_since(self, seq: int, limit: int) -> list[Change]: ...


@dataclass(frozen=True, slots=True)
class EndpointChange:
    """Columns to set on an endpoint (as stored), the event that records it and its details."""

    columns: Mapping[str, object]
    action: Action
    details: Details
