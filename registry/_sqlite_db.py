"""One SQLite connection, driven from one thread, where every call is one transaction.

Multi-process safety comes from SQLite itself: WAL mode lets readers run while
a writer commits, every write transaction starts with BEGIN IMMEDIATE (it takes
the write lock up front, so two processes never deadlock upgrading a read
lock), and the busy timeout makes a writer wait for the lock instead of failing.
Because writers are serialised, the change feed's seqs are assigned in commit
order, which is what keeps it monotonic across processes.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from registry.errors import Conflict, RegistryUnavailable

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], T]

SCHEMA_VERSION = 4

# Waits between attempts to switch a new file to WAL mode while another connection does.
_FIRST_WAL_RETRY_S = 0.005
_LAST_WAL_RETRY_S = 0.1

_SCHEMA = """
CREATE TABLE endpoints (
    namespace      TEXT NOT NULL,
    path           TEXT NOT NULL,
    methods        TEXT NOT NULL,   -- JSON array, sorted
    config         TEXT NOT NULL,   -- JSON object
    quotas         TEXT NOT NULL,   -- JSON object
    enabled        INTEGER NOT NULL,
    active_version INTEGER,         -- a versions.number of this endpoint
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    PRIMARY KEY (namespace, path)
);
-- Not tied to endpoints by a foreign key: versions outlive a deleted endpoint.
CREATE TABLE versions (
    namespace   TEXT NOT NULL,
    path        TEXT NOT NULL,
    number      INTEGER NOT NULL,
    language    TEXT NOT NULL,
    module_hash TEXT NOT NULL,
    author      TEXT NOT NULL,
    message     TEXT NOT NULL,
    source      TEXT,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (namespace, path, number)
);
CREATE TABLE namespaces (
    namespace TEXT PRIMARY KEY,
    enabled   INTEGER NOT NULL,
    quotas    TEXT NOT NULL
);
CREATE TABLE default_quotas (
    id     INTEGER PRIMARY KEY CHECK (id = 1),
    quotas TEXT NOT NULL
);
-- The audit log and the change feed are one table: a mutation and its record
-- commit together. AUTOINCREMENT: a seq is never reused.
CREATE TABLE events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    namespace TEXT,
    path      TEXT,
    details   TEXT NOT NULL
);
CREATE INDEX events_by_namespace ON events (namespace, seq);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TABLE leases (
    key        TEXT PRIMARY KEY,
    holder     TEXT NOT NULL,
    expires_at REAL NOT NULL   -- unix time
);
"""
# Each migration takes a database from the schema before it to its own number.
_MIGRATIONS = {
    1: _SCHEMA,
    # The managed backend service catalogue.
    2: """
CREATE TABLE services (
    name       TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,   -- JSON object, canonical encoding
    updated_at TEXT NOT NULL
);
""",
    # Change control: traffic policies and canaries, labels, build records.
    3: """
CREATE TABLE traffic (
    namespace         TEXT NOT NULL,
    path              TEXT NOT NULL,
    policy            TEXT NOT NULL,   -- JSON object, canonical encoding
    canary_id         TEXT,
    canary_started_at TEXT,
    verdict           TEXT,            -- JSON object
    updated_at        TEXT NOT NULL,
    PRIMARY KEY (namespace, path)
);
-- Measurements, not settings: written without an event.
CREATE TABLE canary_reports (
    namespace TEXT NOT NULL,
    path      TEXT NOT NULL,
    canary_id TEXT NOT NULL,
    reporter  TEXT NOT NULL,
    report    TEXT NOT NULL,   -- JSON object
    at        TEXT NOT NULL,
    PRIMARY KEY (namespace, path, canary_id, reporter)
);
CREATE TABLE version_labels (
    namespace TEXT NOT NULL,
    path      TEXT NOT NULL,
    label     TEXT NOT NULL,
    number    INTEGER NOT NULL,
    PRIMARY KEY (namespace, path, label)
);
CREATE TABLE version_builds (
    namespace TEXT NOT NULL,
    path      TEXT NOT NULL,
    number    INTEGER NOT NULL,
    info      TEXT NOT NULL,   -- JSON object
    files     TEXT NOT NULL,   -- JSON object: relative path -> text
    PRIMARY KEY (namespace, path, number)
);
CREATE INDEX events_by_endpoint ON events (namespace, path, seq);
""",
    # A bundle's version names the runtime that runs it.
    4: "ALTER TABLE versions ADD COLUMN runtime TEXT;",
}


class Database:
    def __init__(self, path: Path, busy_timeout_s: float) -> None:
        self.path = path
        self._busy_timeout_s = busy_timeout_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="registry-sqlite")
        self._connection: sqlite3.Connection | None = None
        self._closed = False

    @classmethod
    async def open(cls, path: Path, busy_timeout_s: float) -> Database:
        database = cls(path, busy_timeout_s)
        try:
            await database._run(database._connect)
        except BaseException:
            await database.close()
            raise
        return database

    async def read(self, work: Work[T]) -> T:
        """Run `work` in one read transaction: it sees a single consistent snapshot."""
        return await self._run(lambda: self._transaction("BEGIN DEFERRED", work))

    async def write(self, work: Work[T]) -> T:
        """Run `work` in one write transaction: all of it commits, or none of it."""
        return await self._run(lambda: self._transaction("BEGIN IMMEDIATE", work))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.get_running_loop().run_in_executor(self._executor, self._disconnect)
        self._executor.shutdown(wait=False)

    async def _run(self, call: Callable[[], T]) -> T:
        if self._closed:
            raise RegistryUnavailable("the registry is closed")
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, call)
        except (sqlite3.ProgrammingError, sqlite3.InterfaceError):
            raise  # a bug in this package, not a state of the store
        except sqlite3.IntegrityError as error:
            raise Conflict(f"sqlite refused the change: {error}") from error
        except sqlite3.Error as error:
            raise RegistryUnavailable(f"sqlite: {error}") from error

    def _connect(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=self._busy_timeout_s, isolation_level=None)
        self._connection = connection
        connection.row_factory = sqlite3.Row
        mode = self._switch_to_wal(connection)
        if mode != "wal":
            raise RegistryUnavailable(f"{self.path}: SQLite refused WAL mode (got {mode!r})")
        # Deploys are rare and must survive a power cut once acknowledged.
        connection.execute("PRAGMA synchronous = FULL")
        self._transaction("BEGIN IMMEDIATE", _migrate)

    def _switch_to_wal(self, connection: sqlite3.Connection) -> str:
        """The journal mode after asking for WAL; retried while the file is locked.

        Switching takes the file's exclusive lock, and SQLite refuses at once,
        without waiting out the busy timeout, when another connection is doing
        the same: the processes of a host opening a new registry together
        failed to start one time in four. Once the file is in WAL mode, asking
        again takes no lock.
        """
        deadline = time.monotonic() + self._busy_timeout_s
        pause_s = _FIRST_WAL_RETRY_S
        while True:
            try:
                mode: str = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                return mode
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() + pause_s > deadline:
                    raise
            time.sleep(pause_s)
            pause_s = min(pause_s * 2, _LAST_WAL_RETRY_S)

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _transaction(self, begin: str, work: Work[T]) -> T:
        connection = self._connection
        if connection is None:
            raise RegistryUnavailable("the registry is closed")
        connection.execute(begin)
        try:
            result = work(connection)
        except BaseException:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result


def _migrate(connection: sqlite3.Connection) -> None:
    version: int = connection.execute("PRAGMA user_version").fetchone()[0]
    if version == SCHEMA_VERSION:
        return
    if version > SCHEMA_VERSION:
        raise RegistryUnavailable(
            f"the registry database has schema {version}; this host knows up to {SCHEMA_VERSION}"
        )
    for number in range(version + 1, SCHEMA_VERSION + 1):
        for statement in _statements(_MIGRATIONS[number]):
            connection.execute(statement)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _statements(script: str) -> list[str]:
    # executescript() would COMMIT the migration's transaction first.
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    return statements
