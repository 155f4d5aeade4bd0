"""The storage contract every registry implementation keeps.

The contract suite in tests/registry/ checks these rules against every
implementation; a rule stated here and not there is a wish, not a contract.

Conventions for all methods:
- Endpoints are named by (namespace, path); a deleted endpoint is NotFound.
- Every mutation of endpoints, versions or settings records exactly one
  audit event and one change-feed entry, atomically with the mutation; a
  mutation that changes nothing records nothing; a failed one records nothing.
- `actor` is the name of the token owner who asked for the change.
- Malformed arguments (an empty actor, a hash that is not sha256 hex, an
  unknown language) raise ValueError; storage trouble raises RegistryUnavailable.

Implementations subclass `registry._checked.CheckedRegistry`, which checks
every argument and holds the rules that decide what a change records, and
provide only its narrow storage primitives: each refuses what the others do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

from registry.models import (
    AuditEvent,
    BuildRecord,
    CanaryEnd,
    CanaryReport,
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


class Registry(Protocol):
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
        """Create an endpoint (enabled, no active version) or replace its methods and config.

        Methods are upper-cased; at least one is required. With `max_endpoints`,
        creating one more endpoint in a namespace that already has that many
        raises QuotaExceeded; counting and creating are one atomic step, so
        concurrent creates (from any number of hosts) never pass the limit.
        Replacing an existing endpoint is never refused by it.
        """
        ...

    async def get_endpoint(self, namespace: str, path: str) -> Endpoint: ...

    async def list_endpoints(self, namespace: str | None = None) -> list[Endpoint]:
        """All endpoints, or those of one namespace, ordered by (namespace, path)."""
        ...

    async def delete_endpoint(self, namespace: str, path: str, *, actor: str) -> None:
        """Make an endpoint unroutable at once.

        Its versions (and their labels and build records) are retained, hidden
        while the endpoint is absent: creating it again brings them back (with
        no active version) and numbering goes on, so a version id never names
        two different modules. Its traffic policy is dropped.
        """
        ...

    async def set_endpoint_enabled(
        self, namespace: str, path: str, enabled: bool, *, actor: str
    ) -> Endpoint: ...

    async def set_endpoint_quotas(
        self, namespace: str, path: str, quotas: Quotas, *, actor: str
    ) -> Endpoint:
        """Replace the endpoint's quota overrides (an empty mapping clears them)."""
        ...

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
        """Record an immutable version; its module must already be stored (put_module).

        `build` (what it was built from) is stored with it, atomically, and read
        back with get_build. A bundle's version names the runtime that runs it, a
        module stored like any other (NotFound if it is not); `module_hash` is
        then the bundle's.
        """
        ...

    async def get_version(self, namespace: str, path: str, version_id: VersionId) -> Version: ...

    async def list_versions(self, namespace: str, path: str) -> list[Version]:
        """The endpoint's versions, newest first."""
        ...

    async def activate(
        self, namespace: str, path: str, version_id: VersionId, *, actor: str
    ) -> Endpoint:
        """Route the endpoint to one of its own versions; an older one is a rollback."""
        ...

    # Namespace and global settings

    async def get_namespace(self, namespace: str) -> NamespaceSettings:
        """A namespace's settings; one never configured is enabled with no overrides."""
        ...

    async def set_namespace_enabled(
        self, namespace: str, enabled: bool, *, actor: str
    ) -> NamespaceSettings: ...

    async def set_namespace_quotas(
        self, namespace: str, quotas: Quotas, *, actor: str
    ) -> NamespaceSettings: ...

    async def get_default_quotas(self) -> Quotas: ...

    async def set_default_quotas(self, quotas: Quotas, *, actor: str) -> Quotas: ...

    async def effective_quotas(self, namespace: str, path: str) -> Quotas:
        """Defaults, overridden by the namespace's, overridden by the endpoint's."""
        ...

    # The managed backend service catalogue

    async def list_services(self) -> list[ServiceRecord]:
        """Every managed service, ordered by name."""
        ...

    async def get_service(self, name: str) -> ServiceRecord: ...

    async def put_service(
        self, name: str, spec: Mapping[str, object], *, actor: str
    ) -> ServiceRecord:
        """Create a service or replace its spec (a JSON object of at most 64 KiB).

        Names are 1-63 characters of `a-z0-9_-`, starting with a letter or
        digit. The change is global (namespace and path None): it reaches every
        host through the change feed like any other. Its audit entry records
        the spec (and the previous one) with the values of `spec["headers"]`
        replaced: they are secrets such as API keys.
        """
        ...

    async def delete_service(self, name: str, *, actor: str) -> None: ...

    # Change control: traffic splits, device-class rules, canaries, labels, build records

    async def get_traffic(self, namespace: str, path: str) -> Traffic:
        """The endpoint's traffic; one never set sends every device to the active version."""
        ...

    async def list_traffic(self) -> list[Traffic]:
        """The traffic of every endpoint that ever had one set, ordered by (namespace, path)."""
        ...

    async def set_traffic(
        self, namespace: str, path: str, policy: TrafficPolicy, *, actor: str
    ) -> Traffic:
        """Replace the endpoint's traffic policy: one `traffic.set` event, policy before and after.

        Every version the policy names must be the endpoint's (NotFound); a
        candidate needs an active version and must not be it (Conflict). A new
        candidate starts a new canary run: a fresh `canary_id`, started now,
        no verdict. The same candidate at another percentage keeps its run.
        """
        ...

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
        """End the canary run `canary_id`: PROMOTED makes its candidate the active
        version, ABORTED and ROLLED_BACK drop it; rules and analysis settings stay.

        Conflict unless `canary_id` is the running canary, so a decision about
        one run never applies to another. One event (the outcome's action)
        records the verdict, which stays on the Traffic; the run's reports go.
        """
        ...

    async def record_verdict(
        self, namespace: str, path: str, *, canary_id: str, verdict: Details, actor: str
    ) -> Traffic:
        """Store the analysis' verdict on the running canary `canary_id` (one
        `canary.verdict` event with it). The stored verdict again records
        nothing; Conflict unless `canary_id` is the running canary."""
        ...

    async def put_canary_report(
        self, namespace: str, path: str, *, canary_id: str, reporter: str, report: Details
    ) -> None:
        """Store one reporter's counts for a canary run, replacing its previous report.

        Reports are measurements, not settings: they record no audit event and
        no change. A JSON object of at most 256 KiB.
        """
        ...

    async def canary_reports(self, namespace: str, path: str, canary_id: str) -> list[CanaryReport]:
        """Every reporter's latest report on a canary run, ordered by reporter."""
        ...

    async def set_label(
        self, namespace: str, path: str, label: str, version_id: VersionId | None, *, actor: str
    ) -> dict[str, VersionId]:
        """Point `label` at one of the endpoint's versions, moving it if it named another
        (`version.labelled`), or remove it with None (`version.unlabelled`); return
        every label. Labels are letters, digits and `._-`, never like `v7`."""
        ...

    async def labels(self, namespace: str, path: str) -> dict[str, VersionId]:
        """The endpoint's labels: label -> version."""
        ...

    async def get_build(self, namespace: str, path: str, version_id: VersionId) -> BuildRecord:
        """What a version was built from; NotFound if it was recorded without one."""
        ...

    async def list_builds(self, namespace: str, path: str) -> dict[VersionId, Details]:
        """The build info (without files) of each of the endpoint's versions that has one."""
        ...

    # Content-addressed modules and precompiled artifacts

    async def put_module(self, data: bytes) -> ModuleHash:
        """Store a module under its sha256; storing the same bytes again is a no-op."""
        ...

    async def get_module(self, module_hash: ModuleHash) -> bytes:
        """The module's bytes; NotFound if never stored, CorruptBlob if damaged."""
        ...

    async def has_module(self, module_hash: ModuleHash) -> bool: ...

    async def put_artifact(
        self, module_hash: ModuleHash, fingerprint: Fingerprint, data: bytes
    ) -> None:
        """Store (or replace) the precompiled form of a module for one engine fingerprint.

        A fingerprint is 1-128 characters of letters, digits and `._-`.
        """
        ...

    async def get_artifact(self, module_hash: ModuleHash, fingerprint: Fingerprint) -> bytes | None:
        """The artifact, or None if absent (artifacts are a cache: recompile on None).

        A damaged artifact raises CorruptBlob once and is dropped, so it reads
        as absent afterwards.
        """
        ...

    async def has_artifact(self, module_hash: ModuleHash, fingerprint: Fingerprint) -> bool:
        """Whether an artifact is stored; its integrity is only checked by get_artifact."""
        ...

    # Leases: one host per fleet does an expensive job (compiling) while others wait

    async def try_lease(self, key: str, holder: str, ttl_seconds: float) -> bool:
        """Take or renew the lease on `key`; False while another holder's lease is live."""
        ...

    async def release_lease(self, key: str, holder: str) -> None:
        """Give the lease up if `holder` has it; otherwise do nothing."""
        ...

    # History

    async def audit_log(
        self,
        *,
        namespace: str | None = None,
        limit: int = 100,
        before_seq: int | None = None,
        path: str | None = None,
    ) -> list[AuditEvent]:
        """Events newest first; with `namespace`, only that namespace's (no global ones),
        and with `path` too, only that endpoint's.

        Page back with `before_seq` = the smallest seq of the previous page.
        """
        ...

    async def changes_since(self, seq: int, limit: int = 1000) -> list[Change]:
        """Changes with a seq greater than `seq`, oldest first, at most `limit`.

        Seqs only grow, across every process sharing the store, and a change
        becomes visible only after every change with a smaller seq: a poller that
        remembers the largest seq it has seen misses nothing.
        """
        ...

    async def latest_seq(self) -> int:
        """The seq of the newest change, 0 when there is none."""
        ...

    async def close(self) -> None:
        """Release connections; idempotent. Any later call raises RegistryUnavailable."""
        ...
