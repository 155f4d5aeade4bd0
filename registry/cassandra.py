"""The fleet registry on Apache Cassandra.

Consistency, on purpose:
- What hosts read (routes, the change feed, modules, artifacts) and every
  write use LOCAL_QUORUM: a majority of the local data centre's replicas, so
  a write acknowledged to one host is what any other host in the data
  centre reads next, without waiting on other regions. One replica of three
  may be down.
- Every metadata mutation happens under one registry-wide lease, taken with a
  lightweight transaction, and is written as one logged batch together with
  its audit event and change-feed entry. Mutations are rare (deploys,
  switches, quota changes), so serialising them costs nothing that matters,
  and it is what makes the change feed gap-free.
- A mutation takes that lease at SERIAL and reads what it decides on (the
  seq, version numbers, the rows it changes) at EACH_QUORUM, so two data
  centres never mutate at once and each starts from the other's last change.
  When Cassandra answers that another data centre is down, the mutation goes
  on at LOCAL_SERIAL and LOCAL_QUORUM: a data centre cut off from the others
  keeps deploying (see _WriteScope for what that costs).
- Statements that time out (a replica died and Cassandra has not noticed
  yet) may have been applied or not; all of them are idempotent, and a
  mutation sends its reads and its batch again, holding its lease, until
  its deadline.
- Hosts read the change feed only up to its first missing seq: in another
  data centre a change can arrive before the one ahead of it.
- Compile leases are lightweight transactions too: exactly one host wins.
- Blobs are chunked and checked on every read (see _cassandra_blobs).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.cluster import Cluster, Session
from cassandra.query import PreparedStatement

from registry import _change_control, _checks
from registry._cassandra_blobs import BlobTables
from registry._cassandra_schema import EVENTS_PER_BUCKET, migrate
from registry._cassandra_session import (
    STATEMENT_SECONDS,
    CassandraTarget,
    OutcomeUnknown,
    ReplicasDown,
    Statement,
    connect,
    parse_url,
    prepare_once_known,
    run,
    run_batch,
)
from registry._checked import CheckedRegistry, EndpointChange, NewVersion
from registry.errors import NotFound, RegistryUnavailable
from registry.models import (
    Action,
    AuditEvent,
    BuildRecord,
    CanaryEnd,
    CanaryReport,
    Change,
    Details,
    Endpoint,
    Fingerprint,
    ModuleHash,
    NamespaceSettings,
    Quotas,
    ServiceRecord,
    Traffic,
    TrafficPolicy,
    Version,
    VersionId,
    merge_quotas,
)

_WRITE_LEASE = "registry:write"
_WRITE_LEASE_SECONDS = 15.0
# How long one mutation may take, waiting for the lease, reading and sending
# its batch again after timeouts: longer than Cassandra's failure detector
# takes to convict a dead node (10-30 s), during which statements time out.
_MUTATION_SECONDS = 60.0
_LEASE_MARGIN_SECONDS = 1.0

# `{ks}` is the registry's keyspace.
_STATEMENTS = {
    "meta": "SELECT seq, default_quotas FROM {ks}.meta WHERE id = 'registry'",
    "set_seq": "UPDATE {ks}.meta SET seq = ? WHERE id = 'registry'",
    "set_defaults": "UPDATE {ks}.meta SET default_quotas = ? WHERE id = 'registry'",
    "endpoint": "SELECT * FROM {ks}.endpoints WHERE namespace = ? AND path = ?",
    "endpoints": "SELECT * FROM {ks}.endpoints",
    "endpoints_of": "SELECT * FROM {ks}.endpoints WHERE namespace = ?",
    "count_endpoints_of": "SELECT COUNT(*) AS count FROM {ks}.endpoints WHERE namespace = ?",
    "put_endpoint": "INSERT INTO {ks}.endpoints (namespace, path, methods, config, quotas, enabled,"
    " active_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "delete_endpoint": "DELETE FROM {ks}.endpoints WHERE namespace = ? AND path = ?",
    "version": "SELECT * FROM {ks}.versions WHERE namespace = ? AND path = ? AND number = ?",
    "versions": "SELECT * FROM {ks}.versions WHERE namespace = ? AND path = ?",
    "put_version": "INSERT INTO {ks}.versions (namespace, path, number, language, module_hash,"
    " author, message, has_source, created_at, runtime) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "source": "SELECT source FROM {ks}.version_sources WHERE namespace = ? AND path = ?"
    " AND number = ?",
    "put_source": "INSERT INTO {ks}.version_sources (namespace, path, number, source)"
    " VALUES (?, ?, ?, ?)",
    "last_number": "SELECT last FROM {ks}.version_numbers WHERE namespace = ? AND path = ?",
    "set_last_number": "UPDATE {ks}.version_numbers SET last = ? WHERE namespace = ? AND path = ?",
    "namespace": "SELECT * FROM {ks}.namespaces WHERE namespace = ?",
    "put_namespace": "INSERT INTO {ks}.namespaces (namespace, enabled, quotas) VALUES (?, ?, ?)",
    "put_event": "INSERT INTO {ks}.events (bucket, seq, at, actor, action, namespace, path,"
    " details) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    "put_event_by_namespace": "INSERT INTO {ks}.events_by_namespace (namespace, seq, at, actor,"
    " action, path, details) VALUES (?, ?, ?, ?, ?, ?, ?)",
    "events_after": "SELECT * FROM {ks}.events WHERE bucket = ? AND seq > ? LIMIT ?",
    "events_before": "SELECT * FROM {ks}.events WHERE bucket = ? AND seq < ? ORDER BY seq DESC"
    " LIMIT ?",
    "namespace_events": "SELECT * FROM {ks}.events_by_namespace WHERE namespace = ? AND seq < ?"
    " LIMIT ?",
    # Filtering inside one partition (a namespace's events) reads only that partition.
    "endpoint_events": "SELECT * FROM {ks}.events_by_namespace WHERE namespace = ? AND seq < ?"
    " AND path = ? LIMIT ? ALLOW FILTERING",
    "services": "SELECT * FROM {ks}.services",
    "service": "SELECT * FROM {ks}.services WHERE name = ?",
    "put_service": "INSERT INTO {ks}.services (name, spec, updated_at) VALUES (?, ?, ?)",
    "delete_service": "DELETE FROM {ks}.services WHERE name = ?",
    "traffic": "SELECT * FROM {ks}.traffic WHERE namespace = ? AND path = ?",
    "all_traffic": "SELECT * FROM {ks}.traffic",
    "put_traffic": "INSERT INTO {ks}.traffic (namespace, path, policy, canary_id,"
    " canary_started_at, verdict, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    "set_verdict": "UPDATE {ks}.traffic SET verdict = ? WHERE namespace = ? AND path = ?",
    "delete_traffic": "DELETE FROM {ks}.traffic WHERE namespace = ? AND path = ?",
    "put_report": "INSERT INTO {ks}.canary_reports (namespace, path, canary_id, reporter,"
    " report, at) VALUES (?, ?, ?, ?, ?, ?)",
    "reports": "SELECT * FROM {ks}.canary_reports WHERE namespace = ? AND path = ?"
    " AND canary_id = ?",
    "delete_reports": "DELETE FROM {ks}.canary_reports WHERE namespace = ? AND path = ?"
    " AND canary_id = ?",
    "labels": "SELECT label, number FROM {ks}.version_labels WHERE namespace = ? AND path = ?",
    "put_label": "INSERT INTO {ks}.version_labels (namespace, path, label, number)"
    " VALUES (?, ?, ?, ?)",
    "delete_label": "DELETE FROM {ks}.version_labels WHERE namespace = ? AND path = ?"
    " AND label = ?",
    "build": "SELECT info, files FROM {ks}.version_builds WHERE namespace = ? AND path = ?"
    " AND number = ?",
    "builds": "SELECT number, info FROM {ks}.version_builds WHERE namespace = ? AND path = ?",
    "put_build": "INSERT INTO {ks}.version_builds (namespace, path, number, info, files)"
    " VALUES (?, ?, ?, ?, ?)",
    "delete_build": "DELETE FROM {ks}.version_builds WHERE namespace = ? AND path = ?"
    " AND number = ?",
    "lease_take": "INSERT INTO {ks}.leases (key, holder, expires_at) VALUES (?, ?, ?)"
    " IF NOT EXISTS USING TTL ?",
    "lease_steal": "UPDATE {ks}.leases USING TTL ? SET holder = ?, expires_at = ? WHERE key = ?"
    " IF holder = ? AND expires_at = ?",
    "lease_extend": "UPDATE {ks}.leases USING TTL ? SET holder = ?, expires_at = ? WHERE key = ?"
    " IF holder = ?",
    "lease_release": "DELETE FROM {ks}.leases WHERE key = ? IF holder = ?",
}


class CassandraRegistry(CheckedRegistry):
    def __init__(
        self,
        cluster: Cluster,
        session: Session,
        statements: dict[str, PreparedStatement],
        blobs: BlobTables,
    ) -> None:
        self._cluster = cluster
        self._session = session
        self._q = statements
        self._blobs = blobs
        self._holder = f"registry-{uuid.uuid4().hex}"
        self._closed = False

    @classmethod
    async def open(cls, url: str) -> CassandraRegistry:
        return await cls.connect(parse_url(url))

    @classmethod
    async def connect(cls, target: CassandraTarget) -> CassandraRegistry:
        cluster, session = await asyncio.to_thread(connect, target)
        try:
            await migrate(session, target.keyspace, target.replication)

            # Preparing is a blocking round trip per statement: once, at start.
            def prepare(cql: str) -> PreparedStatement:
                # Every table named with its keyspace: Cassandra warns about
                # a prepared statement that leaves its keyspace to the session.
                return prepare_once_known(session, cql.format(ks=target.keyspace))

            prepared = await asyncio.to_thread(
                lambda: {name: prepare(text) for name, text in _STATEMENTS.items()}
            )
            blobs = await asyncio.to_thread(BlobTables, session, prepare)
        except BaseException:
            await asyncio.to_thread(cluster.shutdown)
            raise
        return cls(cluster, session, prepared, blobs)

    # Endpoints

    async def _put_endpoint(
        self, namespace: str, path: str, change: EndpointChange, actor: str, limit: int | None
    ) -> Endpoint:
        async with self._writing() as write:
            row = await self._find_endpoint_row(namespace, path)
            if row is not None:
                return self._change_endpoint(write, row, change, actor)
            if limit is not None:
                # Under the write lease: no other writer can create one meanwhile.
                (counted,) = await self._read("count_endpoints_of", namespace)
                _checks.room_for_endpoint(namespace, counted.count, limit)
            now = _stamp()
            methods, config = (str(change.columns[column]) for column in ("methods", "config"))
            endpoint = _EndpointRow(namespace, path, methods, config, "{}", True, None, now, now)
            write.add(self._q["put_endpoint"], endpoint.values())
            write.record(actor, Action.ENDPOINT_CREATED, namespace, path, change.details)
            return endpoint.model()

    async def get_endpoint(self, namespace: str, path: str) -> Endpoint:
        return (await self._endpoint_row(namespace, path)).model()

    async def list_endpoints(self, namespace: str | None = None) -> list[Endpoint]:
        if namespace is None:
            rows = await self._read("endpoints")
        else:
            rows = await self._read("endpoints_of", namespace)
        endpoints = [_EndpointRow.of(row).model() for row in rows]
        return sorted(endpoints, key=lambda e: (e.namespace, e.path))

    async def _delete_endpoint(self, namespace: str, path: str, actor: str) -> None:
        async with self._writing() as write:
            row = await self._endpoint_row(namespace, path)
            write.add(self._q["delete_endpoint"], (namespace, path))
            write.add(self._q["delete_traffic"], (namespace, path))
            details = {"active_version": row.model().active_version}
            write.record(actor, Action.ENDPOINT_DELETED, namespace, path, details)

    async def _update_endpoint(
        self, namespace: str, path: str, change: EndpointChange, actor: str
    ) -> Endpoint:
        async with self._writing() as write:
            row = await self._endpoint_row(namespace, path)
            return self._change_endpoint(write, row, change, actor)

    # Versions

    async def _add_version(self, version: NewVersion) -> Version:
        namespace, path = version.namespace, version.path
        async with self._writing() as write:
            await self._endpoint_row(namespace, path)
            rows = await self._read("last_number", namespace, path)
            number = (rows[0].last if rows and rows[0].last else 0) + 1
            if version.source is not None:
                # Written before the version row, which makes it visible.
                await self._run("put_source", namespace, path, number, version.source)
            if version.build is not None:
                await self._run("put_build", namespace, path, number, *version.build)
            else:
                # A failed earlier attempt at this number may have left one.
                write.add(self._q["delete_build"], (namespace, path, number))
            added = Version(
                id=_checks.version_id(number),
                namespace=namespace,
                path=path,
                language=version.language,
                module_hash=version.module_hash,
                author=version.author,
                message=version.message,
                created_at=_time(_stamp()),
                source=version.source,
                runtime=version.runtime,
            )
            write.add(self._q["set_last_number"], (number, namespace, path))
            write.add(
                self._q["put_version"],
                (
                    namespace,
                    path,
                    number,
                    added.language,
                    added.module_hash,
                    added.author,
                    added.message,
                    added.source is not None,
                    added.created_at.isoformat(),
                    added.runtime,
                ),
            )
            details = _checks.version_details(added)
            write.record(added.author, Action.VERSION_ADDED, namespace, path, details)
            return added

    async def _get_version(self, namespace: str, path: str, number: int) -> Version:
        await self._endpoint_row(namespace, path)
        return await self._version(namespace, path, number)

    async def list_versions(self, namespace: str, path: str) -> list[Version]:
        await self._endpoint_row(namespace, path)
        rows = await self._read("versions", namespace, path)
        return [await self._version_of(row) for row in rows]

    async def _activate(self, namespace: str, path: str, number: int, actor: str) -> Endpoint:
        async with self._writing() as write:
            row = await self._endpoint_row(namespace, path)
            version = await self._version(namespace, path, number)
            previous = row.active_version
            if previous == number:
                return row.model()
            updated = row.replace(active_version=number, updated_at=_stamp())
            write.add(self._q["put_endpoint"], updated.values())
            details = _checks.activation_details(version, previous)
            write.record(actor, Action.VERSION_ACTIVATED, namespace, path, details)
            return updated.model()

    # Namespace and global settings

    async def _get_namespace(self, namespace: str) -> NamespaceSettings:
        rows = await self._read("namespace", namespace)
        if not rows:
            return NamespaceSettings(namespace)
        return NamespaceSettings(namespace, bool(rows[0].enabled), json.loads(rows[0].quotas))

    async def _set_namespace(
        self, namespace: str, actor: str, enabled: bool | None, quotas: dict[str, int] | None
    ) -> NamespaceSettings:
        async with self._writing() as write:
            current = await self._get_namespace(namespace)
            change = _checks.namespace_change(current, enabled, quotas)
            if change is None:
                return current
            wanted, action, details = change
            write.add(
                self._q["put_namespace"], (namespace, wanted.enabled, _json(dict(wanted.quotas)))
            )
            write.record(actor, action, namespace, None, details)
            return wanted

    async def get_default_quotas(self) -> Quotas:
        rows = await self._read("meta")
        return _defaults_of(rows)

    async def _set_default_quotas(self, quotas: dict[str, int], actor: str) -> Quotas:
        async with self._writing() as write:
            current = await self.get_default_quotas()
            if current == quotas:
                return current
            write.add(self._q["set_defaults"], (_json(quotas),))
            details = {"quotas": quotas, "previous": dict(current)}
            write.record(actor, Action.DEFAULT_QUOTAS_SET, None, None, details)
            return quotas

    async def effective_quotas(self, namespace: str, path: str) -> Quotas:
        endpoint = await self.get_endpoint(namespace, path)
        defaults = await self.get_default_quotas()
        namespace_quotas = (await self._get_namespace(namespace)).quotas
        return merge_quotas(defaults, namespace_quotas, endpoint.quotas)

    # The managed service catalogue

    async def list_services(self) -> list[ServiceRecord]:
        rows = await self._read("services")
        return sorted((_service(row) for row in rows), key=lambda service: service.name)

    async def get_service(self, name: str) -> ServiceRecord:
        rows = await self._read("service", name)
        if not rows:
            raise NotFound(f"no service {name!r}")
        return _service(rows[0])

    async def _put_service(
        self, name: str, spec: dict[str, object], encoded: str, actor: str
    ) -> ServiceRecord:
        async with self._writing() as write:
            rows = await self._read("service", name)
            if rows and rows[0].spec == encoded:
                return _service(rows[0])
            now = _stamp()
            write.add(self._q["put_service"], (name, encoded, now))
            previous = json.loads(rows[0].spec) if rows else None
            action = Action.SERVICE_UPDATED if rows else Action.SERVICE_CREATED
            details = _checks.service_details(name, spec, previous)
            write.record(actor, action, None, None, details)
            return ServiceRecord(name=name, spec=spec, updated_at=_time(now))

    async def _delete_service(self, name: str, actor: str) -> None:
        async with self._writing() as write:
            await self.get_service(name)
            write.add(self._q["delete_service"], (name,))
            write.record(actor, Action.SERVICE_DELETED, None, None, {"service": name})

    # Change control

    async def get_traffic(self, namespace: str, path: str) -> Traffic:
        await self._endpoint_row(namespace, path)
        return await self._traffic(namespace, path)

    async def list_traffic(self) -> list[Traffic]:
        rows = await self._read("all_traffic")
        return sorted((_traffic_of(row) for row in rows), key=lambda t: (t.namespace, t.path))

    async def _set_traffic(
        self, namespace: str, path: str, policy: TrafficPolicy, encoded: str, actor: str
    ) -> Traffic:
        async with self._writing() as write:
            endpoint = (await self._endpoint_row(namespace, path)).model()
            for number in _change_control.version_numbers(policy):
                await self._version(namespace, path, number)
            current = await self._traffic(namespace, path)
            change = _change_control.traffic_change(current, policy, endpoint.active_version)
            if change is None:
                return current
            if change.dropped_run is not None:
                write.add(self._q["delete_reports"], (namespace, path, change.dropped_run))
            write.add(self._q["put_traffic"], (namespace, path, encoded, *change.run, _stamp()))
            write.record(actor, Action.TRAFFIC_SET, namespace, path, change.details)
        return await self._traffic(namespace, path)

    async def _end_canary(
        self,
        namespace: str,
        path: str,
        canary_id: str,
        outcome: CanaryEnd,
        actor: str,
        verdict: str | None,
    ) -> Traffic:
        async with self._writing() as write:
            row = await self._endpoint_row(namespace, path)
            current = await self._traffic(namespace, path)
            stable = row.model().active_version
            ending = _change_control.canary_ending(current, canary_id, outcome, verdict, stable)
            if ending.promoted is not None:
                promoted = row.replace(active_version=ending.promoted, updated_at=_stamp())
                write.add(self._q["put_endpoint"], promoted.values())
            left = (namespace, path, ending.policy, None, None, ending.verdict, _stamp())
            write.add(self._q["put_traffic"], left)
            write.add(self._q["delete_reports"], (namespace, path, canary_id))
            write.record(actor, Action(outcome.value), namespace, path, ending.details)
        return await self._traffic(namespace, path)

    async def _record_verdict(
        self, namespace: str, path: str, canary_id: str, verdict: str, actor: str
    ) -> Traffic:
        async with self._writing() as write:
            await self._endpoint_row(namespace, path)
            current = await self._traffic(namespace, path)
            _change_control.check_running(current, canary_id)
            stored = _change_control.encoded_verdict(current)
            if not _change_control.verdict_changed(stored, json.loads(verdict)):
                return current
            write.add(self._q["set_verdict"], (verdict, namespace, path))
            details = {"canary_id": canary_id, "verdict": json.loads(verdict)}
            write.record(actor, Action.CANARY_VERDICT, namespace, path, details)
        return await self._traffic(namespace, path)

    async def _put_canary_report(
        self, namespace: str, path: str, canary_id: str, reporter: str, report: str
    ) -> None:
        await self._run("put_report", namespace, path, canary_id, reporter, report, _stamp())

    async def canary_reports(self, namespace: str, path: str, canary_id: str) -> list[CanaryReport]:
        rows = await self._read("reports", namespace, path, canary_id)
        return [CanaryReport(row.reporter, json.loads(row.report), _time(row.at)) for row in rows]

    async def _set_label(
        self, namespace: str, path: str, label: str, number: int | None, actor: str
    ) -> dict[str, VersionId]:
        async with self._writing() as write:
            labels = await self.labels(namespace, path)
            wanted = None if number is None else (await self._version(namespace, path, number)).id
            change = _change_control.label_change(namespace, path, label, labels.get(label), wanted)
            if change is None:
                return labels
            if number is None:
                write.add(self._q["delete_label"], (namespace, path, label))
                labels.pop(label)
            else:
                write.add(self._q["put_label"], (namespace, path, label, number))
                labels[label] = _checks.version_id(number)
            write.record(actor, change[0], namespace, path, change[1])
            return dict(sorted(labels.items()))

    async def labels(self, namespace: str, path: str) -> dict[str, VersionId]:
        await self._endpoint_row(namespace, path)
        rows = await self._read("labels", namespace, path)
        return {row.label: _checks.version_id(row.number) for row in rows}

    async def _get_build(self, namespace: str, path: str, number: int) -> BuildRecord:
        await self._endpoint_row(namespace, path)
        await self._version(namespace, path, number)
        rows = await self._read("build", namespace, path, number)
        if not rows:
            raise NotFound(f"version v{number} of {namespace}{path} has no build record")
        return _change_control.build_record(rows[0].info, rows[0].files)

    async def list_builds(self, namespace: str, path: str) -> dict[VersionId, Details]:
        await self._endpoint_row(namespace, path)
        # Only numbers that have a version row: a failed add_version may leave a build row.
        numbers = {row.number for row in await self._read("versions", namespace, path)}
        rows = await self._read("builds", namespace, path)
        return {
            _checks.version_id(row.number): json.loads(row.info)
            for row in rows
            if row.number in numbers
        }

    async def _traffic(self, namespace: str, path: str) -> Traffic:
        rows = await self._read("traffic", namespace, path)
        return _traffic_of(rows[0]) if rows else _change_control.no_traffic(namespace, path)

    # Modules and artifacts

    async def _put_module(self, data: bytes) -> ModuleHash:
        self._check_open()
        return await self._blobs.put_module(data)

    async def _get_module(self, module_hash: ModuleHash) -> bytes:
        self._check_open()
        return await self._blobs.get_module(module_hash)

    async def _has_module(self, module_hash: ModuleHash) -> bool:
        self._check_open()
        return await self._blobs.has_module(module_hash)

    async def _put_artifact(
        self, module_hash: ModuleHash, fingerprint: Fingerprint, data: bytes
    ) -> None:
        self._check_open()
        await self._blobs.put_artifact(module_hash, fingerprint, data)

    async def _get_artifact(
        self, module_hash: ModuleHash, fingerprint: Fingerprint
    ) -> bytes | None:
        self._check_open()
        return await self._blobs.get_artifact(module_hash, fingerprint)

    async def _has_artifact(self, module_hash: ModuleHash, fingerprint: Fingerprint) -> bool:
        self._check_open()
        return await self._blobs.has_artifact(module_hash, fingerprint)

    # Leases

    async def _try_lease(self, key: str, holder: str, ttl_seconds: float) -> bool:
        self._check_open()
        now = time.time()
        expires = now + ttl_seconds
        # The row's TTL only cleans up; `expires_at` decides, to the millisecond.
        row_ttl = int(ttl_seconds) + 2
        taken = await self._lwt("lease_take", key, holder, expires, row_ttl)
        if taken[0].applied:
            return True
        current = taken[0]
        if current.holder != holder and current.expires_at > now:
            return False
        stolen = await self._lwt(
            "lease_steal", row_ttl, holder, expires, key, current.holder, current.expires_at
        )
        return bool(stolen[0].applied)

    async def _extend_lease(self, key: str, holder: str, ttl_seconds: float) -> bool:
        """Extend a lease this holder has held without a break since it took it."""
        expires = time.time() + ttl_seconds
        row_ttl = int(ttl_seconds) + 2
        extended = await self._lwt("lease_extend", row_ttl, holder, expires, key, holder)
        return bool(extended[0].applied)

    async def release_lease(self, key: str, holder: str) -> None:
        self._check_open()
        await self._lwt("lease_release", key, holder)

    # History

    async def _audit_log(
        self, namespace: str | None, path: str | None, limit: int, before_seq: int | None
    ) -> list[AuditEvent]:
        before = before_seq if before_seq is not None else await self.latest_seq() + 1
        if namespace is not None and path is not None:
            rows = await self._read("endpoint_events", namespace, before, path, limit)
            return [_audit_event(row, namespace) for row in rows]
        if namespace is not None:
            rows = await self._read("namespace_events", namespace, before, limit)
            return [_audit_event(row, namespace) for row in rows]
        events: list[AuditEvent] = []
        bucket = (before - 1) // EVENTS_PER_BUCKET
        while bucket >= 0 and len(events) < limit:
            rows = await self._read("events_before", bucket, before, limit - len(events))
            events += [_audit_event(row, row.namespace) for row in rows]
            bucket -= 1
        return events

    async def _changes_since(self, seq: int, limit: int) -> list[Change]:
        latest = await self.latest_seq()
        changes: list[Change] = []
        bucket = max(0, seq + 1) // EVENTS_PER_BUCKET
        while bucket <= latest // EVENTS_PER_BUCKET and len(changes) < limit:
            rows = await self._read("events_after", bucket, seq, limit - len(changes))
            changes += [_change(row) for row in rows if row.seq <= latest]
            bucket += 1
        return _unbroken(changes, after=seq)

    async def latest_seq(self) -> int:
        rows = await self._read("meta")
        return int(rows[0].seq or 0) if rows else 0

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._cluster.shutdown)

    # Internals

    def _check_open(self) -> None:
        if self._closed:
            raise RegistryUnavailable("the registry is closed")

    async def _read(self, name: str, *parameters: Any) -> list[Any]:
        self._check_open()
        scope = _WRITE_SCOPE.get()
        if scope is None:
            return await run(self._session, self._q[name], parameters)
        return await scope.attempt(
            lambda reach: run(self._session, self._q[name], parameters, consistency=reach.read),
            again_after_timeout=True,
        )

    async def _run(self, name: str, *parameters: Any) -> None:
        """A write of fixed values: sending it again after a timeout changes nothing."""
        self._check_open()
        scope = _WRITE_SCOPE.get() or _WriteScope()
        await scope.attempt(
            lambda reach: run(self._session, self._q[name], parameters), again_after_timeout=True
        )

    async def _lwt(self, name: str, *parameters: Any) -> list[Any]:
        """A lightweight transaction, decided by every data centre's replicas when it can be."""
        self._check_open()
        scope = _WRITE_SCOPE.get() or _WriteScope()
        return await scope.attempt(
            lambda reach: run(
                self._session,
                self._q[name],
                parameters,
                consistency=ConsistencyLevel.LOCAL_QUORUM,
                serial_consistency=reach.serial,
            ),
            # Whoever takes a lease decides what to do about a timeout.
            again_after_timeout=False,
        )

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[_Write]:
        """Hold the registry-wide write lease; commit what was added as one logged batch.

        Everything the mutation reads (the seq, version numbers, the rows it
        changes) and the lease itself are decided by every data centre while
        they all answer (see _WriteScope), so the next writer, wherever it
        is, starts from this one's seq.
        """
        self._check_open()
        scope = _WriteScope()
        token = _WRITE_SCOPE.set(scope)
        # One holder per mutation, not per registry: two tasks of this process
        # must exclude each other as much as two hosts do.
        lease = _WriteLease(self, f"{self._holder}:{uuid.uuid4().hex[:12]}")
        try:
            await lease.take(scope)
            try:
                write = _Write(self._q, await self.latest_seq())
                yield write
                if write.statements:
                    await self._commit(write.batch(), lease, scope)
            except OutcomeUnknown:
                # The batch may still land (Cassandra replays its batchlog): keep the
                # lease until it expires rather than let the next writer take the
                # same seq meanwhile.
                raise
            except BaseException:
                await lease.release()
                raise
            await lease.release()
        finally:
            _WRITE_SCOPE.reset(token)

    async def _commit(
        self, statements: list[Statement], lease: _WriteLease, scope: _WriteScope
    ) -> None:
        """Send the batch until Cassandra acknowledges it, for as long as the lease is ours.

        A batch times out while the failure detector has not yet convicted a
        dead node (its batchlog goes to two live-looking nodes of the data
        centre); sending the same rows and events again is harmless.
        """
        while True:
            try:
                await lease.keep()
                await run_batch(self._session, statements)
                return
            except OutcomeUnknown:
                if scope.expired():
                    raise

    async def _find_endpoint_row(self, namespace: str, path: str) -> _EndpointRow | None:
        rows = await self._read("endpoint", namespace, path)
        return _EndpointRow.of(rows[0]) if rows else None

    async def _endpoint_row(self, namespace: str, path: str) -> _EndpointRow:
        row = await self._find_endpoint_row(namespace, path)
        if row is None:
            raise NotFound(f"no endpoint {namespace}{path}")
        return row

    def _change_endpoint(
        self, write: _Write, row: _EndpointRow, change: EndpointChange, actor: str
    ) -> Endpoint:
        """Set some columns; record the change only if one of them differs."""
        columns = change.columns
        if all(getattr(row, column) == value for column, value in columns.items()):
            return row.model()
        updated = row.replace(**columns, updated_at=_stamp())
        write.add(self._q["put_endpoint"], updated.values())
        previous = {column: row.decoded(column) for column in columns}
        details = {**change.details, "previous": previous}
        write.record(actor, change.action, row.namespace, row.path, details)
        return updated.model()

    async def _version(self, namespace: str, path: str, number: int) -> Version:
        rows = await self._read("version", namespace, path, number)
        if not rows:
            raise NotFound(f"endpoint {namespace}{path} has no version v{number}")
        return await self._version_of(rows[0])

    async def _version_of(self, row: Any) -> Version:
        source = None
        if row.has_source:
            found = await self._read("source", row.namespace, row.path, row.number)
            source = found[0].source if found else None
        return Version(
            id=_checks.version_id(row.number),
            namespace=row.namespace,
            path=row.path,
            language=_checks.language(row.language),
            module_hash=row.module_hash,
            author=row.author,
            message=row.message,
            created_at=_time(row.created_at),
            source=source,
            runtime=row.runtime,
        )


@dataclass(frozen=True, slots=True)
class _Reach:
    """Whose replicas decide: every data centre's, or only this one's."""

    everywhere: bool

    @property
    def read(self) -> int:
        level = ConsistencyLevel.EACH_QUORUM if self.everywhere else ConsistencyLevel.LOCAL_QUORUM
        return int(level)

    @property
    def serial(self) -> int:
        level = ConsistencyLevel.SERIAL if self.everywhere else ConsistencyLevel.LOCAL_SERIAL
        return int(level)


@dataclass
class _WriteScope:
    """How one mutation reads and takes leases.

    A majority in every data centre while they all answer: then whatever any
    earlier mutation in any data centre acknowledged is what this one reads,
    and two data centres never hold the write lease at once. When Cassandra
    says another data centre's replicas are down, the mutation goes on with
    this data centre alone (LOCAL_QUORUM, LOCAL_SERIAL), so a data centre cut
    off from the others keeps deploying; two data centres deploying during
    such a split can then both take the same seq.

    Reads that time out are sent again until the mutation's deadline: they
    change nothing.
    """

    reach: _Reach = field(default_factory=lambda: _Reach(everywhere=True))
    deadline: float = field(default_factory=lambda: time.monotonic() + _MUTATION_SECONDS)

    def expired(self) -> bool:
        return time.monotonic() > self.deadline

    async def attempt(
        self, call: Callable[[_Reach], Awaitable[list[Any]]], *, again_after_timeout: bool
    ) -> list[Any]:
        while True:
            try:
                return await call(self.reach)
            except ReplicasDown:
                if not self.reach.everywhere:
                    raise
                self.reach = _Reach(everywhere=False)
            except OutcomeUnknown:
                if not again_after_timeout or self.expired():
                    raise


_WRITE_SCOPE: ContextVar[_WriteScope | None] = ContextVar("cassandra_write_scope", default=None)


class _WriteLease:
    """The registry-wide write lease, held by one mutation."""

    def __init__(self, registry: CassandraRegistry, holder: str) -> None:
        self._registry = registry
        self._holder = holder
        # Until when the lease is surely ours, by this process's clock.
        self._expires = 0.0

    async def take(self, scope: _WriteScope) -> None:
        while True:
            try:
                if await self._try():
                    return
                unknown = None
            except OutcomeUnknown as error:
                # Perhaps taken: trying again with the same holder tells.
                unknown = error
            if scope.expired():
                raise unknown or RegistryUnavailable(
                    "another writer has held the registry for too long"
                )
            await asyncio.sleep(random.uniform(0.002, 0.02))

    async def keep(self) -> None:
        """Before sending: make sure the lease outlasts the statement, extending it if need be.

        Only a lease held without a break is extended: if it lapsed and someone
        else wrote meanwhile, this writer's seq is stale and it must not send.
        """
        if time.time() + STATEMENT_SECONDS + _LEASE_MARGIN_SECONDS < self._expires:
            return
        started = time.time()
        if not await self._registry._extend_lease(_WRITE_LEASE, self._holder, _WRITE_LEASE_SECONDS):
            raise RegistryUnavailable("the registry's write lease lapsed before the commit")
        self._expires = started + _WRITE_LEASE_SECONDS

    async def release(self) -> None:
        """Best effort: a lease that cannot be released now expires on its own."""
        with contextlib.suppress(RegistryUnavailable):
            await self._registry.release_lease(_WRITE_LEASE, self._holder)

    async def _try(self) -> bool:
        started = time.time()
        taken = await self._registry.try_lease(_WRITE_LEASE, self._holder, _WRITE_LEASE_SECONDS)
        if taken:
            self._expires = started + _WRITE_LEASE_SECONDS
        return taken


@dataclass
class _Write:
    """What one mutation writes: its rows, then its events, then the new seq."""

    statements_by_name: dict[str, PreparedStatement]
    seq: int
    statements: list[Statement] = field(default_factory=list)

    def add(self, statement: PreparedStatement, parameters: Sequence[Any]) -> None:
        self.statements.append((statement, parameters))

    def record(
        self,
        actor: str,
        action: Action,
        namespace: str | None,
        path: str | None,
        details: Details,
    ) -> None:
        self.seq += 1
        at, encoded = _stamp(), _json(details)
        q = self.statements_by_name
        self.add(
            q["put_event"],
            (
                self.seq // EVENTS_PER_BUCKET,
                self.seq,
                at,
                actor,
                action.value,
                namespace,
                path,
                encoded,
            ),
        )
        if namespace is not None:
            self.add(
                q["put_event_by_namespace"],
                (namespace, self.seq, at, actor, action.value, path, encoded),
            )

    def batch(self) -> list[Statement]:
        return [*self.statements, (self.statements_by_name["set_seq"], (self.seq,))]


@dataclass(frozen=True)
class _EndpointRow:
    namespace: str
    path: str
    methods: str
    config: str
    quotas: str
    enabled: bool
    active_version: int | None
    created_at: str
    updated_at: str

    @classmethod
    def of(cls, row: Any) -> _EndpointRow:
        return cls(
            row.namespace,
            row.path,
            row.methods,
            row.config,
            row.quotas,
            bool(row.enabled),
            row.active_version,
            row.created_at,
            row.updated_at,
        )

    def replace(self, **changes: Any) -> _EndpointRow:
        return _EndpointRow(**{**self.__dict__, **changes})

    def values(self) -> tuple[Any, ...]:
        return (
            self.namespace,
            self.path,
            self.methods,
            self.config,
            self.quotas,
            self.enabled,
            self.active_version,
            self.created_at,
            self.updated_at,
        )

    def decoded(self, column: str) -> object:
        value = getattr(self, column)
        return json.loads(value) if column in {"methods", "config", "quotas"} else value

    def model(self) -> Endpoint:
        return Endpoint(
            namespace=self.namespace,
            path=self.path,
            methods=frozenset(json.loads(self.methods)),
            config=json.loads(self.config),
            quotas=json.loads(self.quotas),
            enabled=self.enabled,
            active_version=(
                None if self.active_version is None else _checks.version_id(self.active_version)
            ),
            created_at=_time(self.created_at),
            updated_at=_time(self.updated_at),
        )


def _traffic_of(row: Any) -> Traffic:
    return _change_control.stored_traffic(
        *(getattr(row, column) for column in _change_control.TRAFFIC_COLUMNS)
    )


def _service(row: Any) -> ServiceRecord:
    return ServiceRecord(name=row.name, spec=json.loads(row.spec), updated_at=_time(row.updated_at))


def _defaults_of(rows: list[Any]) -> dict[str, int]:
    if not rows or rows[0].default_quotas is None:
        return {}
    return dict(json.loads(rows[0].default_quotas))


def _unbroken(changes: list[Change], after: int) -> list[Change]:
    """The changes up to the first missing seq.

    In another data centre a change can arrive before the one ahead of it
    (each travels on its own); a poller that skipped the missing one would
    never see it. The rest comes with a later poll.
    """
    for index, change in enumerate(changes):
        if change.seq != after + 1 + index:
            return changes[:index]
    return changes


def _audit_event(row: Any, namespace: str | None) -> AuditEvent:
    return AuditEvent(
        seq=row.seq,
        at=_time(row.at),
        actor=row.actor,
        action=Action(row.action),
        namespace=namespace,
        path=row.path,
        details=json.loads(row.details),
    )


def _change(row: Any) -> Change:
    return Change(
        seq=row.seq,
        at=_time(row.at),
        action=Action(row.action),
        namespace=row.namespace,
        path=row.path,
    )


_json = _checks.encoded
_stamp = _checks.stamp
_time = _checks.moment
