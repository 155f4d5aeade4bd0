"""The embedded default: metadata in one SQLite file, modules and artifacts as files beside it.

Two host processes may share a data dir: see _sqlite_db for how writes are
serialised. Modules (~12-18 MB) and artifacts (~40 MB) stay out of the
database: as blobs they would be written twice (WAL, then checkpoint) while
holding the one write lock every other process waits on. Being immutable and
content-addressed, as files they need no lock at all (see _blobs).
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

from registry import _change_control, _checks
from registry._blobs import BlobStore
from registry._checked import CheckedRegistry, EndpointChange, NewVersion
from registry._sqlite_db import Database
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

P = ParamSpec("P")
R = TypeVar("R")

DATABASE_NAME = "registry.sqlite3"
BLOB_DIR_NAME = "registry-blobs"


class SQLiteRegistry(CheckedRegistry):
    def __init__(self, database: Database, blobs: BlobStore) -> None:
        self._db = database
        self._blobs = blobs
        self._closed = False

    @classmethod
    async def open(
        cls, path: Path, *, blob_dir: Path | None = None, busy_timeout_s: float = 5.0
    ) -> SQLiteRegistry:
        """Open (creating if needed) the database at `path`; blobs go beside it by default."""
        database = await Database.open(path, busy_timeout_s)
        return cls(database, BlobStore(blob_dir or path.parent / BLOB_DIR_NAME))

    @classmethod
    async def in_data_dir(cls, data_dir: Path) -> SQLiteRegistry:
        return await cls.open(data_dir / DATABASE_NAME)

    # Endpoints

    async def _put_endpoint(
        self, namespace: str, path: str, change: EndpointChange, actor: str, limit: int | None
    ) -> Endpoint:
        return await self._db.write(
            lambda db: _put_endpoint(db, namespace, path, change, actor, limit)
        )

    async def get_endpoint(self, namespace: str, path: str) -> Endpoint:
        return await self._db.read(lambda db: _endpoint(_endpoint_row(db, namespace, path)))

    async def list_endpoints(self, namespace: str | None = None) -> list[Endpoint]:
        query = "SELECT * FROM endpoints"
        if namespace is not None:
            query += " WHERE namespace = :namespace"
        query += " ORDER BY namespace, path"
        rows = await self._db.read(
            lambda db: db.execute(query, {"namespace": namespace}).fetchall()
        )
        return [_endpoint(row) for row in rows]

    async def _delete_endpoint(self, namespace: str, path: str, actor: str) -> None:
        await self._db.write(lambda db: _delete_endpoint(db, namespace, path, actor))

    async def _update_endpoint(
        self, namespace: str, path: str, change: EndpointChange, actor: str
    ) -> Endpoint:
        return await self._db.write(lambda db: _update_endpoint(db, namespace, path, change, actor))

    # Versions

    async def _add_version(self, version: NewVersion) -> Version:
        return await self._db.write(lambda db: _add_version(db, version))

    async def _get_version(self, namespace: str, path: str, number: int) -> Version:
        def read(db: sqlite3.Connection) -> Version:
            _endpoint_row(db, namespace, path)
            return _version(_version_row(db, namespace, path, number))

        return await self._db.read(read)

    async def list_versions(self, namespace: str, path: str) -> list[Version]:
        def read(db: sqlite3.Connection) -> list[sqlite3.Row]:
            _endpoint_row(db, namespace, path)
            return db.execute(
                "SELECT * FROM versions WHERE namespace = ? AND path = ? ORDER BY number DESC",
                (namespace, path),
            ).fetchall()

        return [_version(row) for row in await self._db.read(read)]

    async def _activate(self, namespace: str, path: str, number: int, actor: str) -> Endpoint:
        return await self._db.write(lambda db: _activate(db, namespace, path, number, actor))

    # Namespace and global settings

    async def _get_namespace(self, namespace: str) -> NamespaceSettings:
        return await self._db.read(lambda db: _namespace(db, namespace))

    async def _set_namespace(
        self, namespace: str, actor: str, enabled: bool | None, quotas: dict[str, int] | None
    ) -> NamespaceSettings:
        return await self._db.write(
            lambda db: _set_namespace(db, namespace, actor, enabled, quotas)
        )

    async def get_default_quotas(self) -> Quotas:
        return await self._db.read(_default_quotas)

    async def _set_default_quotas(self, quotas: dict[str, int], actor: str) -> Quotas:
        return await self._db.write(lambda db: _set_default_quotas(db, quotas, actor))

    async def effective_quotas(self, namespace: str, path: str) -> Quotas:
        def read(db: sqlite3.Connection) -> Quotas:
            endpoint = _endpoint(_endpoint_row(db, namespace, path))
            return merge_quotas(
                _default_quotas(db), _namespace(db, namespace).quotas, endpoint.quotas
            )

        return await self._db.read(read)

    # The managed service catalogue

    async def list_services(self) -> list[ServiceRecord]:
        rows = await self._db.read(
            lambda db: db.execute("SELECT * FROM services ORDER BY name").fetchall()
        )
        return [_service(row) for row in rows]

    async def get_service(self, name: str) -> ServiceRecord:
        return await self._db.read(lambda db: _service(_service_row(db, name)))

    async def _put_service(
        self, name: str, spec: dict[str, object], encoded: str, actor: str
    ) -> ServiceRecord:
        return await self._db.write(lambda db: _put_service(db, name, spec, encoded, actor))

    async def _delete_service(self, name: str, actor: str) -> None:
        await self._db.write(lambda db: _delete_service(db, name, actor))

    # Change control

    async def get_traffic(self, namespace: str, path: str) -> Traffic:
        def read(db: sqlite3.Connection) -> Traffic:
            _endpoint_row(db, namespace, path)
            return _traffic(db, namespace, path)

        return await self._db.read(read)

    async def list_traffic(self) -> list[Traffic]:
        rows = await self._db.read(
            lambda db: db.execute("SELECT * FROM traffic ORDER BY namespace, path").fetchall()
        )
        return [_traffic_of(row) for row in rows]

    async def _set_traffic(
        self, namespace: str, path: str, policy: TrafficPolicy, encoded: str, actor: str
    ) -> Traffic:
        return await self._db.write(
            lambda db: _set_traffic(db, namespace, path, policy, encoded, actor)
        )

    async def _end_canary(
        self,
        namespace: str,
        path: str,
        canary_id: str,
        outcome: CanaryEnd,
        actor: str,
        verdict: str | None,
    ) -> Traffic:
        return await self._db.write(
            lambda db: _end_canary(db, namespace, path, canary_id, outcome, actor, verdict)
        )

    async def _record_verdict(
        self, namespace: str, path: str, canary_id: str, verdict: str, actor: str
    ) -> Traffic:
        return await self._db.write(
            lambda db: _record_verdict(db, namespace, path, canary_id, verdict, actor)
        )

    async def _put_canary_report(
        self, namespace: str, path: str, canary_id: str, reporter: str, report: str
    ) -> None:
        await self._db.write(
            lambda db: db.execute(
                "INSERT INTO canary_reports (namespace, path, canary_id, reporter, report, at)"
                " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (namespace, path, canary_id, reporter)"
                " DO UPDATE SET report = excluded.report, at = excluded.at",
                (namespace, path, canary_id, reporter, report, _stamp()),
            )
        )

    async def canary_reports(self, namespace: str, path: str, canary_id: str) -> list[CanaryReport]:
        rows = await self._db.read(
            lambda db: db.execute(
                "SELECT reporter, report, at FROM canary_reports"
                " WHERE namespace = ? AND path = ? AND canary_id = ? ORDER BY reporter",
                (namespace, path, canary_id),
            ).fetchall()
        )
        return [
            CanaryReport(row["reporter"], json.loads(row["report"]), _time(row["at"]))
            for row in rows
        ]

    async def _set_label(
        self, namespace: str, path: str, label: str, number: int | None, actor: str
    ) -> dict[str, VersionId]:
        return await self._db.write(
            lambda db: _set_label(db, namespace, path, label, number, actor)
        )

    async def labels(self, namespace: str, path: str) -> dict[str, VersionId]:
        def read(db: sqlite3.Connection) -> dict[str, VersionId]:
            _endpoint_row(db, namespace, path)
            return _labels(db, namespace, path)

        return await self._db.read(read)

    async def _get_build(self, namespace: str, path: str, number: int) -> BuildRecord:
        def read(db: sqlite3.Connection) -> BuildRecord:
            _endpoint_row(db, namespace, path)
            _version_row(db, namespace, path, number)
            row = db.execute(
                "SELECT info, files FROM version_builds"
                " WHERE namespace = ? AND path = ? AND number = ?",
                (namespace, path, number),
            ).fetchone()
            if row is None:
                raise NotFound(f"version v{number} of {namespace}{path} has no build record")
            return _change_control.build_record(row["info"], row["files"])

        return await self._db.read(read)

    async def list_builds(self, namespace: str, path: str) -> dict[VersionId, Details]:
        def read(db: sqlite3.Connection) -> list[sqlite3.Row]:
            _endpoint_row(db, namespace, path)
            return db.execute(
                "SELECT number, info FROM version_builds WHERE namespace = ? AND path = ?",
                (namespace, path),
            ).fetchall()

        rows = await self._db.read(read)
        return {_checks.version_id(row["number"]): json.loads(row["info"]) for row in rows}

    # Modules and artifacts

    async def _put_module(self, data: bytes) -> ModuleHash:
        return await self._blob_call(self._blobs.put_module, data)

    async def _get_module(self, module_hash: ModuleHash) -> bytes:
        return await self._blob_call(self._blobs.get_module, module_hash)

    async def _has_module(self, module_hash: ModuleHash) -> bool:
        return await self._blob_call(self._blobs.has_module, module_hash)

    async def _put_artifact(
        self, module_hash: ModuleHash, fingerprint: Fingerprint, data: bytes
    ) -> None:
        await self._blob_call(self._blobs.put_artifact, module_hash, fingerprint, data)

    async def _get_artifact(
        self, module_hash: ModuleHash, fingerprint: Fingerprint
    ) -> bytes | None:
        return await self._blob_call(self._blobs.get_artifact, module_hash, fingerprint)

    async def _has_artifact(self, module_hash: ModuleHash, fingerprint: Fingerprint) -> bool:
        return await self._blob_call(self._blobs.has_artifact, module_hash, fingerprint)

    # Leases

    async def _try_lease(self, key: str, holder: str, ttl_seconds: float) -> bool:
        return await self._db.write(lambda db: _try_lease(db, key, holder, ttl_seconds))

    async def release_lease(self, key: str, holder: str) -> None:
        await self._db.write(
            lambda db: db.execute("DELETE FROM leases WHERE key = ? AND holder = ?", (key, holder))
        )

    # History

    async def _audit_log(
        self, namespace: str | None, path: str | None, limit: int, before_seq: int | None
    ) -> list[AuditEvent]:
        query = "SELECT * FROM events WHERE 1"
        if namespace is not None:
            query += " AND namespace = :namespace"
            if path is not None:
                query += " AND path = :path"
        if before_seq is not None:
            query += " AND seq < :before"
        query += " ORDER BY seq DESC LIMIT :limit"
        arguments = {"namespace": namespace, "path": path, "before": before_seq, "limit": limit}
        rows = await self._db.read(lambda db: db.execute(query, arguments).fetchall())
        return [_audit_event(row) for row in rows]

    async def _changes_since(self, seq: int, limit: int) -> list[Change]:
        rows = await self._db.read(
            lambda db: db.execute(
                "SELECT seq, at, action, namespace, path FROM events"
                " WHERE seq > ? ORDER BY seq LIMIT ?",
                (seq, limit),
            ).fetchall()
        )
        return [_change(row) for row in rows]

    async def latest_seq(self) -> int:
        return await self._db.read(
            lambda db: int(db.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0])
        )

    async def close(self) -> None:
        self._closed = True
        await self._db.close()

    async def _blob_call(self, call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Blob I/O runs on the default thread pool, never queued behind the database."""
        if self._closed:
            raise RegistryUnavailable("the registry is closed")
        return await asyncio.to_thread(call, *args, **kwargs)


# Everything below runs on the database thread, inside one transaction.

_JSON_COLUMNS = frozenset({"methods", "config", "quotas"})


def _put_endpoint(
    db: sqlite3.Connection,
    namespace: str,
    path: str,
    change: EndpointChange,
    actor: str,
    max_endpoints: int | None,
) -> Endpoint:
    if _find_endpoint_row(db, namespace, path) is not None:
        return _update_endpoint(db, namespace, path, change, actor)
    if max_endpoints is not None:
        # Inside the write transaction: no other writer can create one meanwhile.
        (count,) = db.execute(
            "SELECT COUNT(*) FROM endpoints WHERE namespace = ?", (namespace,)
        ).fetchone()
        _checks.room_for_endpoint(namespace, count, max_endpoints)
    db.execute(
        "INSERT INTO endpoints (namespace, path, methods, config, quotas, enabled,"
        " active_version, created_at, updated_at)"
        " VALUES (:namespace, :path, :methods, :config, '{}', 1, NULL, :now, :now)",
        {"namespace": namespace, "path": path, "now": _stamp(), **change.columns},
    )
    _record(db, actor, Action.ENDPOINT_CREATED, namespace, path, change.details)
    return _endpoint(_endpoint_row(db, namespace, path))


def _update_endpoint(
    db: sqlite3.Connection, namespace: str, path: str, change: EndpointChange, actor: str
) -> Endpoint:
    """Set some columns of an endpoint; record the change only if one of them differs."""
    row = _endpoint_row(db, namespace, path)
    columns = change.columns
    if all(row[column] == value for column, value in columns.items()):
        return _endpoint(row)
    # Column names come from the checking layer, never from a caller.
    assignments = ", ".join(f"{column} = :{column}" for column in columns)
    db.execute(
        f"UPDATE endpoints SET {assignments}, updated_at = :now"
        " WHERE namespace = :namespace AND path = :path",
        {**columns, "now": _stamp(), "namespace": namespace, "path": path},
    )
    previous = {column: _decoded(row, column) for column in columns}
    details = {**change.details, "previous": previous}
    _record(db, actor, change.action, namespace, path, details)
    return _endpoint(_endpoint_row(db, namespace, path))


def _delete_endpoint(db: sqlite3.Connection, namespace: str, path: str, actor: str) -> None:
    endpoint = _endpoint(_endpoint_row(db, namespace, path))
    db.execute("DELETE FROM endpoints WHERE namespace = ? AND path = ?", (namespace, path))
    _drop_traffic(db, namespace, path)
    details = {"active_version": endpoint.active_version}
    _record(db, actor, Action.ENDPOINT_DELETED, namespace, path, details)


def _add_version(db: sqlite3.Connection, version: NewVersion) -> Version:
    namespace, path = version.namespace, version.path
    _endpoint_row(db, namespace, path)
    # Numbering goes on past versions of a deleted incarnation of the endpoint.
    number: int = db.execute(
        "SELECT COALESCE(MAX(number), 0) + 1 FROM versions WHERE namespace = ? AND path = ?",
        (namespace, path),
    ).fetchone()[0]
    db.execute(
        "INSERT INTO versions (namespace, path, number, language, module_hash, author,"
        " message, source, created_at, runtime) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            namespace,
            path,
            number,
            version.language,
            version.module_hash,
            version.author,
            version.message,
            version.source,
            _stamp(),
            version.runtime,
        ),
    )
    if version.build is not None:
        db.execute(
            "INSERT INTO version_builds (namespace, path, number, info, files)"
            " VALUES (?, ?, ?, ?, ?)",
            (namespace, path, number, *version.build),
        )
    added = _version(_version_row(db, namespace, path, number))
    details = _checks.version_details(added)
    _record(db, added.author, Action.VERSION_ADDED, namespace, path, details)
    return added


def _activate(
    db: sqlite3.Connection, namespace: str, path: str, number: int, actor: str
) -> Endpoint:
    row = _endpoint_row(db, namespace, path)
    version = _version(_version_row(db, namespace, path, number))
    previous: int | None = row["active_version"]
    if previous == number:
        return _endpoint(row)
    db.execute(
        "UPDATE endpoints SET active_version = ?, updated_at = ? WHERE namespace = ? AND path = ?",
        (number, _stamp(), namespace, path),
    )
    details = _checks.activation_details(version, previous)
    _record(db, actor, Action.VERSION_ACTIVATED, namespace, path, details)
    return _endpoint(_endpoint_row(db, namespace, path))


def _namespace(db: sqlite3.Connection, namespace: str) -> NamespaceSettings:
    row = db.execute("SELECT * FROM namespaces WHERE namespace = ?", (namespace,)).fetchone()
    if row is None:
        return NamespaceSettings(namespace)
    return NamespaceSettings(namespace, bool(row["enabled"]), json.loads(row["quotas"]))


def _set_namespace(
    db: sqlite3.Connection,
    namespace: str,
    actor: str,
    enabled: bool | None,
    quotas: dict[str, int] | None,
) -> NamespaceSettings:
    current = _namespace(db, namespace)
    change = _checks.namespace_change(current, enabled, quotas)
    if change is None:
        return current
    wanted, action, details = change
    db.execute(
        "INSERT INTO namespaces (namespace, enabled, quotas) VALUES (?, ?, ?)"
        " ON CONFLICT (namespace) DO UPDATE SET enabled = excluded.enabled,"
        " quotas = excluded.quotas",
        (namespace, int(wanted.enabled), _json(dict(wanted.quotas))),
    )
    _record(db, actor, action, namespace, None, details)
    return wanted


def _default_quotas(db: sqlite3.Connection) -> dict[str, int]:
    row = db.execute("SELECT quotas FROM default_quotas WHERE id = 1").fetchone()
    return {} if row is None else dict(json.loads(row["quotas"]))


def _set_default_quotas(db: sqlite3.Connection, quotas: dict[str, int], actor: str) -> Quotas:
    current = _default_quotas(db)
    if current == quotas:
        return current
    db.execute(
        "INSERT INTO default_quotas (id, quotas) VALUES (1, ?)"
        " ON CONFLICT (id) DO UPDATE SET quotas = excluded.quotas",
        (_json(quotas),),
    )
    details = {"quotas": quotas, "previous": current}
    _record(db, actor, Action.DEFAULT_QUOTAS_SET, None, None, details)
    return quotas


def _put_service(
    db: sqlite3.Connection, name: str, spec: dict[str, object], encoded: str, actor: str
) -> ServiceRecord:
    row = _find_service_row(db, name)
    if row is not None and row["spec"] == encoded:
        return _service(row)
    db.execute(
        "INSERT INTO services (name, spec, updated_at) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at",
        (name, encoded, _stamp()),
    )
    previous = None if row is None else json.loads(row["spec"])
    action = Action.SERVICE_CREATED if row is None else Action.SERVICE_UPDATED
    _record(db, actor, action, None, None, _checks.service_details(name, spec, previous))
    return _service(_service_row(db, name))


def _delete_service(db: sqlite3.Connection, name: str, actor: str) -> None:
    _service_row(db, name)
    db.execute("DELETE FROM services WHERE name = ?", (name,))
    _record(db, actor, Action.SERVICE_DELETED, None, None, {"service": name})


def _find_service_row(db: sqlite3.Connection, name: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = db.execute(
        "SELECT * FROM services WHERE name = ?", (name,)
    ).fetchone()
    return row


def _service_row(db: sqlite3.Connection, name: str) -> sqlite3.Row:
    row = _find_service_row(db, name)
    if row is None:
        raise NotFound(f"no service {name!r}")
    return row


def _service(row: sqlite3.Row) -> ServiceRecord:
    return ServiceRecord(
        name=row["name"], spec=json.loads(row["spec"]), updated_at=_time(row["updated_at"])
    )


def _traffic_row(db: sqlite3.Connection, namespace: str, path: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = db.execute(
        "SELECT * FROM traffic WHERE namespace = ? AND path = ?", (namespace, path)
    ).fetchone()
    return row


def _traffic(db: sqlite3.Connection, namespace: str, path: str) -> Traffic:
    row = _traffic_row(db, namespace, path)
    return _change_control.no_traffic(namespace, path) if row is None else _traffic_of(row)


def _traffic_of(row: sqlite3.Row) -> Traffic:
    return _change_control.stored_traffic(
        *(row[column] for column in _change_control.TRAFFIC_COLUMNS)
    )


def _set_traffic(
    db: sqlite3.Connection,
    namespace: str,
    path: str,
    wanted: TrafficPolicy,
    encoded: str,
    actor: str,
) -> Traffic:
    endpoint = _endpoint(_endpoint_row(db, namespace, path))
    for number in _change_control.version_numbers(wanted):
        _version_row(db, namespace, path, number)
    current = _traffic(db, namespace, path)
    change = _change_control.traffic_change(current, wanted, endpoint.active_version)
    if change is None:
        return current
    if change.dropped_run is not None:
        _drop_reports(db, namespace, path, change.dropped_run)
    _write_traffic(db, namespace, path, encoded, *change.run)
    _record(db, actor, Action.TRAFFIC_SET, namespace, path, change.details)
    return _traffic(db, namespace, path)


def _write_traffic(
    db: sqlite3.Connection,
    namespace: str,
    path: str,
    encoded_policy: str,
    canary_id: str | None,
    started_at: str | None,
    verdict: str | None,
) -> None:
    db.execute(
        "INSERT INTO traffic (namespace, path, policy, canary_id, canary_started_at, verdict,"
        " updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (namespace, path) DO UPDATE SET"
        " policy = excluded.policy, canary_id = excluded.canary_id,"
        " canary_started_at = excluded.canary_started_at, verdict = excluded.verdict,"
        " updated_at = excluded.updated_at",
        (namespace, path, encoded_policy, canary_id, started_at, verdict, _stamp()),
    )


def _running_canary(db: sqlite3.Connection, namespace: str, path: str, canary_id: str) -> Traffic:
    _endpoint_row(db, namespace, path)
    current = _traffic(db, namespace, path)
    _change_control.check_running(current, canary_id)
    return current


def _end_canary(
    db: sqlite3.Connection,
    namespace: str,
    path: str,
    canary_id: str,
    outcome: CanaryEnd,
    actor: str,
    verdict: str | None,
) -> Traffic:
    stable = _endpoint(_endpoint_row(db, namespace, path)).active_version
    current = _traffic(db, namespace, path)
    ending = _change_control.canary_ending(current, canary_id, outcome, verdict, stable)
    if ending.promoted is not None:
        db.execute(
            "UPDATE endpoints SET active_version = ?, updated_at = ?"
            " WHERE namespace = ? AND path = ?",
            (ending.promoted, _stamp(), namespace, path),
        )
    _write_traffic(db, namespace, path, ending.policy, None, None, ending.verdict)
    _drop_reports(db, namespace, path, canary_id)
    _record(db, actor, Action(outcome.value), namespace, path, ending.details)
    return _traffic(db, namespace, path)


def _drop_reports(db: sqlite3.Connection, namespace: str, path: str, canary_id: str) -> None:
    db.execute(
        "DELETE FROM canary_reports WHERE namespace = ? AND path = ? AND canary_id = ?",
        (namespace, path, canary_id),
    )


def _record_verdict(
    db: sqlite3.Connection,
    namespace: str,
    path: str,
    canary_id: str,
    verdict: str,
    actor: str,
) -> Traffic:
    current = _running_canary(db, namespace, path, canary_id)
    row = _traffic_row(db, namespace, path)
    assert row is not None
    if not _change_control.verdict_changed(row["verdict"], json.loads(verdict)):
        return current
    db.execute(
        "UPDATE traffic SET verdict = ? WHERE namespace = ? AND path = ?",
        (verdict, namespace, path),
    )
    details = {"canary_id": canary_id, "verdict": json.loads(verdict)}
    _record(db, actor, Action.CANARY_VERDICT, namespace, path, details)
    return _traffic(db, namespace, path)


def _drop_traffic(db: sqlite3.Connection, namespace: str, path: str) -> None:
    for table in ("traffic", "canary_reports"):
        # Table names come from this module, never from a caller.
        db.execute(f"DELETE FROM {table} WHERE namespace = ? AND path = ?", (namespace, path))


def _labels(db: sqlite3.Connection, namespace: str, path: str) -> dict[str, VersionId]:
    rows = db.execute(
        "SELECT label, number FROM version_labels WHERE namespace = ? AND path = ? ORDER BY label",
        (namespace, path),
    ).fetchall()
    return {row["label"]: _checks.version_id(row["number"]) for row in rows}


def _set_label(
    db: sqlite3.Connection,
    namespace: str,
    path: str,
    label: str,
    number: int | None,
    actor: str,
) -> dict[str, VersionId]:
    _endpoint_row(db, namespace, path)
    wanted = None if number is None else _version(_version_row(db, namespace, path, number)).id
    current = _labels(db, namespace, path).get(label)
    change = _change_control.label_change(namespace, path, label, current, wanted)
    if change is None:
        return _labels(db, namespace, path)
    if number is None:
        db.execute(
            "DELETE FROM version_labels WHERE namespace = ? AND path = ? AND label = ?",
            (namespace, path, label),
        )
    else:
        db.execute(
            "INSERT INTO version_labels (namespace, path, label, number) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (namespace, path, label) DO UPDATE SET number = excluded.number",
            (namespace, path, label, number),
        )
    action, details = change
    _record(db, actor, action, namespace, path, details)
    return _labels(db, namespace, path)


def _try_lease(db: sqlite3.Connection, key: str, holder: str, ttl_seconds: float) -> bool:
    now = time.time()
    row = db.execute("SELECT holder, expires_at FROM leases WHERE key = ?", (key,)).fetchone()
    if row is not None and row["holder"] != holder and row["expires_at"] > now:
        return False
    db.execute(
        "INSERT INTO leases (key, holder, expires_at) VALUES (?, ?, ?)"
        " ON CONFLICT (key) DO UPDATE SET holder = excluded.holder,"
        " expires_at = excluded.expires_at",
        (key, holder, now + ttl_seconds),
    )
    return True


def _record(
    db: sqlite3.Connection,
    actor: str,
    action: Action,
    namespace: str | None,
    path: str | None,
    details: Details,
) -> None:
    db.execute(
        "INSERT INTO events (at, actor, action, namespace, path, details)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (_stamp(), actor, action.value, namespace, path, _json(details)),
    )


def _find_endpoint_row(db: sqlite3.Connection, namespace: str, path: str) -> sqlite3.Row | None:
    row: sqlite3.Row | None = db.execute(
        "SELECT * FROM endpoints WHERE namespace = ? AND path = ?", (namespace, path)
    ).fetchone()
    return row


def _endpoint_row(db: sqlite3.Connection, namespace: str, path: str) -> sqlite3.Row:
    row = _find_endpoint_row(db, namespace, path)
    if row is None:
        raise NotFound(f"no endpoint {namespace}{path}")
    return row


def _version_row(db: sqlite3.Connection, namespace: str, path: str, number: int) -> sqlite3.Row:
    row: sqlite3.Row | None = db.execute(
        "SELECT * FROM versions WHERE namespace = ? AND path = ? AND number = ?",
        (namespace, path, number),
    ).fetchone()
    if row is None:
        raise NotFound(f"endpoint {namespace}{path} has no version v{number}")
    return row


def _endpoint(row: sqlite3.Row) -> Endpoint:
    active: int | None = row["active_version"]
    return Endpoint(
        namespace=row["namespace"],
        path=row["path"],
        methods=frozenset(json.loads(row["methods"])),
        config=json.loads(row["config"]),
        quotas=json.loads(row["quotas"]),
        enabled=bool(row["enabled"]),
        active_version=None if active is None else _checks.version_id(active),
        created_at=_time(row["created_at"]),
        updated_at=_time(row["updated_at"]),
    )


def _version(row: sqlite3.Row) -> Version:
    return Version(
        id=_checks.version_id(row["number"]),
        namespace=row["namespace"],
        path=row["path"],
        language=_checks.language(row["language"]),
        module_hash=row["module_hash"],
        author=row["author"],
        message=row["message"],
        created_at=_time(row["created_at"]),
        source=row["source"],
        runtime=row["runtime"],
    )


def _audit_event(row: sqlite3.Row) -> AuditEvent:
    return AuditEvent(
        seq=row["seq"],
        at=_time(row["at"]),
        actor=row["actor"],
        action=Action(row["action"]),
        namespace=row["namespace"],
        path=row["path"],
        details=json.loads(row["details"]),
    )


def _change(row: sqlite3.Row) -> Change:
    return Change(
        seq=row["seq"],
        at=_time(row["at"]),
        action=Action(row["action"]),
        namespace=row["namespace"],
        path=row["path"],
    )


def _decoded(row: sqlite3.Row, column: str) -> object:
    value: object = row[column]
    if column in _JSON_COLUMNS and isinstance(value, str):
        return json.loads(value)
    return bool(value) if column == "enabled" else value


_json = _checks.encoded
_stamp = _checks.stamp
_time = _checks.moment
