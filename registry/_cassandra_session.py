"""Connecting to Cassandra from a registry URL, and awaiting the driver without blocking.

    cassandra://HOST[:PORT][,HOST[:PORT]...]/KEYSPACE
        ?replication=dc1:3,dc2:3   NetworkTopologyStrategy with these factors
        &replication=1             SimpleStrategy (the default, factor 1)
        &local_dc=dc1              route queries to this data centre
        &tls=1                     TLS (SCRIPTHOST_CASSANDRA_CA_FILE: a CA bundle)

Credentials come from the URL's user info or from SCRIPTHOST_CASSANDRA_USERNAME
and SCRIPTHOST_CASSANDRA_PASSWORD.
"""

from __future__ import annotations

import asyncio
import os
import re
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from cassandra import (
    ConsistencyLevel,
    CoordinationFailure,
    DriverException,
    InvalidRequest,
    OperationTimedOut,
    ProtocolVersion,
    Timeout,
    Unavailable,
)
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import (
    EXEC_PROFILE_DEFAULT,
    Cluster,
    ExecutionProfile,
    NoHostAvailable,
    ResponseFuture,
    Session,
)
from cassandra.connection import ConnectionBusy
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    FallthroughRetryPolicy,
    TokenAwarePolicy,
)
from cassandra.pool import Host
from cassandra.query import BatchStatement, BatchType, PreparedStatement, SimpleStatement

from registry.errors import InvalidRegistryURL, RegistryUnavailable

DEFAULT_PORT = 9042
# How long the driver waits for one statement: at least Cassandra's own
# request timeouts (2 s for writes, 5 s for reads by default), so a replica
# that does not answer surfaces as Cassandra's typed timeout.
STATEMENT_SECONDS = 10.0
# How long the driver waits, after a schema change, for every node to report
# the same schema version; a schema statement's own timeout outlasts it.
SCHEMA_AGREEMENT_SECONDS = 60.0
# What a node answers when a statement names a table or column it has not heard of yet.
_SCHEMA_NOT_YET_APPLIED = ("Undefined column name", "unconfigured table")
_PREPARE_RETRY_SECONDS = 0.5
_RELOCATE_SECONDS = 5.0
_KEYSPACE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,47}$")


@dataclass(frozen=True, slots=True)
class CassandraTarget:
    hosts: tuple[str, ...]
    port: int
    keyspace: str
    # CQL replication options: SimpleStrategy with a factor, or a factor per DC.
    replication: dict[str, Any] = field(
        default_factory=lambda: {"class": "SimpleStrategy", "replication_factor": 1}
    )
    local_dc: str | None = None
    username: str | None = None
    password: str | None = None
    tls: bool = False


def parse_url(url: str) -> CassandraTarget:
    parts = urlsplit(url)
    if parts.scheme != "cassandra" or not parts.netloc:
        raise InvalidRegistryURL(f"{url!r}: expected cassandra://HOST[:PORT][,HOST...]/KEYSPACE")
    keyspace = parts.path.strip("/")
    if not _KEYSPACE.match(keyspace):
        raise InvalidRegistryURL(f"{url!r}: the keyspace must be letters, digits and _")
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    hosts, ports = _hosts_and_port(hostlist, url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    username, _, password = userinfo.partition(":")
    return CassandraTarget(
        hosts=hosts,
        port=ports,
        keyspace=keyspace,
        replication=_replication(query.get("replication", "1"), url),
        local_dc=query.get("local_dc"),
        username=unquote(username) or os.environ.get("SCRIPTHOST_CASSANDRA_USERNAME"),
        password=unquote(password) or os.environ.get("SCRIPTHOST_CASSANDRA_PASSWORD"),
        tls=query.get("tls", "0").lower() in {"1", "true", "yes"},
    )


def _hosts_and_port(hostlist: str, url: str) -> tuple[tuple[str, ...], int]:
    hosts: list[str] = []
    ports: set[int] = set()
    for item in hostlist.split(","):
        host, _, port = item.partition(":")
        if not host:
            raise InvalidRegistryURL(f"{url!r}: empty host name")
        hosts.append(host)
        ports.add(int(port) if port.isdigit() else DEFAULT_PORT)
    if len(ports) != 1:
        raise InvalidRegistryURL(f"{url!r}: every host must use the same port")
    return tuple(hosts), ports.pop()


def _replication(spec: str, url: str) -> dict[str, Any]:
    if spec.isdigit():
        return {"class": "SimpleStrategy", "replication_factor": int(spec)}
    factors: dict[str, Any] = {"class": "NetworkTopologyStrategy"}
    for item in spec.split(","):
        dc, _, factor = item.partition(":")
        if not dc or not factor.isdigit():
            raise InvalidRegistryURL(f"{url!r}: replication is N or DC:N[,DC:N...]")
        factors[dc] = int(factor)
    return factors


def connect(target: CassandraTarget) -> tuple[Cluster, Session]:
    """Blocking: call it in a thread."""
    policy = TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=target.local_dc))
    auth = (
        PlainTextAuthProvider(target.username, target.password or "") if target.username else None
    )
    profile = ExecutionProfile(load_balancing_policy=policy, request_timeout=STATEMENT_SECONDS)
    cluster = Cluster(
        contact_points=list(target.hosts),
        port=target.port,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        auth_provider=auth,
        # v5 carries each statement's keyspace; Cassandra 4.0 and later speak it.
        protocol_version=ProtocolVersion.V5,
        ssl_context=_tls_context() if target.tls else None,
        connect_timeout=5,
        control_connection_timeout=5,
        # After an outage, find the nodes again within seconds, not minutes.
        reconnection_policy=ExponentialReconnectionPolicy(base_delay=0.5, max_delay=5.0),
        # A migration's next statement must find the table it created on every
        # node; a cluster can take longer than the driver's 10 s to agree.
        max_schema_agreement_wait=int(SCHEMA_AGREEMENT_SECONDS),
    )
    try:
        session = cluster.connect()
    except (NoHostAvailable, DriverException, OSError) as error:
        cluster.shutdown()
        raise RegistryUnavailable(f"cannot reach Cassandra at {target.hosts}: {error}") from None
    if target.local_dc is not None:
        _follow_events_locally(cluster, target.local_dc)
    return cluster, session


def _follow_events_locally(cluster: Cluster, local_dc: str) -> None:
    """Move the driver's control connection (topology and schema events) into the local DC.

    Until it has asked a node, the driver takes every contact point for a
    local one and may have opened it on another data centre's node; now that
    it knows where each node is, reconnecting picks a local one.
    """
    deadline = time.monotonic() + _RELOCATE_SECONDS
    host = cluster.get_control_connection_host()
    if host is None or host.datacenter == local_dc:
        return
    cluster.control_connection.reconnect()
    while time.monotonic() < deadline:
        host = cluster.get_control_connection_host()
        if host is not None and host.datacenter == local_dc:
            return
        time.sleep(0.05)


def _tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=os.environ.get("SCRIPTHOST_CASSANDRA_CA_FILE"))
    return context


Statement = tuple[PreparedStatement, Sequence[Any]]


class OutcomeUnknown(RegistryUnavailable):
    """A statement timed out or failed on some replicas: it may or may not have been applied.

    Every statement the registry sends is idempotent (reads, writes of fixed
    values, lightweight transactions keyed by their holder), so the caller may
    send it again; what it must not do is assume either outcome.
    """


class ReplicasDown(RegistryUnavailable):
    """Cassandra refused the statement, writing nothing: too few replicas are alive for it."""


# Errors after which Cassandra may have applied the statement anyway. An
# Unavailable, by contrast, is refused before anything is written.
_AMBIGUOUS = (Timeout, OperationTimedOut, CoordinationFailure)
# The first wait for a busy connection to drain; it doubles, up to a second.
_BUSY_BACKOFF_SECONDS = 0.02


async def run(
    session: Session,
    statement: PreparedStatement | str,
    parameters: Sequence[Any] = (),
    *,
    consistency: int = ConsistencyLevel.LOCAL_QUORUM,
    serial_consistency: int = ConsistencyLevel.LOCAL_SERIAL,
    driver_timeout_s: float = STATEMENT_SECONDS,
) -> list[Any]:
    """Execute on the driver's own threads; the event loop only awaits the answer.

    `serial_consistency` is for lightweight transactions: the replicas whose
    majority decides their condition.
    """
    bound = _bound(statement, parameters, consistency, serial_consistency)
    return await _execute(session, bound, driver_timeout_s)


async def run_batch(
    session: Session, statements: Sequence[Statement], driver_timeout_s: float = STATEMENT_SECONDS
) -> None:
    """A logged batch: all of its statements are applied or none is.

    After a timeout which of the two is not known yet: Cassandra replays a
    batch whose batchlog it wrote.
    """
    batch = BatchStatement(
        batch_type=BatchType.LOGGED, consistency_level=ConsistencyLevel.LOCAL_QUORUM
    )
    for statement, parameters in statements:
        batch.add(statement, list(parameters))
    await _execute(session, batch, driver_timeout_s)


def prepare_once_known(
    session: Session, cql: str, within_s: float = SCHEMA_AGREEMENT_SECONDS
) -> PreparedStatement:
    """Prepare `cql`, waiting while the node asked has not yet heard of what it names.

    A host that finds the keyspace migrated may start a moment after another
    host migrated it. The nodes its driver sees can all still report the
    schema from before the last change, and so agree, while a node that has
    not applied a new column refuses a statement naming it ("Undefined
    column name"). A change reaches every node within seconds; one that has
    not within `within_s` is reported as the registry being unavailable.
    Blocking: call it from a thread.
    """
    deadline = time.monotonic() + within_s
    while True:
        try:
            return session.prepare(cql)
        except InvalidRequest as error:
            if not any(lag in str(error) for lag in _SCHEMA_NOT_YET_APPLIED):
                raise
            if time.monotonic() >= deadline:
                raise RegistryUnavailable(
                    f"Cassandra: {error} (the schema had not reached every node"
                    f" within {within_s:.0f} s)"
                ) from None
        time.sleep(_PREPARE_RETRY_SECONDS)


async def change_schema(session: Session, cql: str, coordinator: Host) -> None:
    """One schema statement on `coordinator` alone, returning once every node agrees on it.

    A `CREATE TABLE IF NOT EXISTS` that reaches a node which has not yet
    heard of the table creates it again under another table id, and the
    nodes then disagree about the schema for good. So a migration sends each
    change to one node, never to another on a retry, and goes on only once
    the change has reached every node.
    """
    statement = SimpleStatement(
        cql, consistency_level=ConsistencyLevel.ONE, retry_policy=FallthroughRetryPolicy()
    )
    _, future = await _answer(
        session, statement, SCHEMA_AGREEMENT_SECONDS + STATEMENT_SECONDS, coordinator
    )
    if not future.is_schema_agreed:
        raise RegistryUnavailable(
            f"Cassandra: the nodes did not agree on the schema within"
            f" {SCHEMA_AGREEMENT_SECONDS:.0f} s of {cql.split('(')[0].strip()!r}"
            f" on {coordinator.address}"
        )


async def _execute(session: Session, statement: Any, driver_timeout_s: float) -> list[Any]:
    rows, _ = await _answer(session, statement, driver_timeout_s)
    return rows


async def _answer(
    session: Session, statement: Any, driver_timeout_s: float, host: Host | None = None
) -> tuple[list[Any], ResponseFuture]:
    """The statement's rows and its finished future; the driver's errors as the registry's.

    A statement no connection would take because each one's socket buffer
    was full (the node reading slower than chunks of a large blob are
    written) was never sent, so it is sent again once they drain, until
    `driver_timeout_s` has passed.
    """
    deadline = time.monotonic() + driver_timeout_s
    backoff_s = _BUSY_BACKOFF_SECONDS
    while True:
        try:
            return await _answer_once(session, statement, driver_timeout_s, host)
        except NoHostAvailable as error:
            if not _only_busy(error) or time.monotonic() >= deadline:
                raise RegistryUnavailable(f"Cassandra: NoHostAvailable: {error}") from None
        await asyncio.sleep(backoff_s)
        backoff_s = min(backoff_s * 2, 1.0)


def _only_busy(error: NoHostAvailable) -> bool:
    refusals = error.errors.values() if isinstance(error.errors, dict) else []
    return bool(refusals) and all(isinstance(refusal, ConnectionBusy) for refusal in refusals)


async def _answer_once(
    session: Session, statement: Any, driver_timeout_s: float, host: Host | None
) -> tuple[list[Any], ResponseFuture]:
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[list[Any]] = loop.create_future()
    try:
        future: ResponseFuture = session.execute_async(
            statement, timeout=driver_timeout_s, host=host
        )
    except DriverException as error:
        raise RegistryUnavailable(f"Cassandra: {error}") from None

    def done(rows: Any) -> None:
        loop.call_soon_threadsafe(_settle, answer, list(rows or []), None)

    def failed(error: BaseException) -> None:
        loop.call_soon_threadsafe(_settle, answer, None, error)

    future.add_callbacks(done, failed)
    try:
        return await answer, future
    except _AMBIGUOUS as error:
        raise OutcomeUnknown(f"Cassandra: {type(error).__name__}: {error}") from None
    except Unavailable as error:
        raise ReplicasDown(f"Cassandra: {error}") from None
    except NoHostAvailable:
        raise
    except (DriverException, OSError) as error:
        raise RegistryUnavailable(f"Cassandra: {type(error).__name__}: {error}") from None


def _bound(
    statement: PreparedStatement | str, parameters: Sequence[Any], consistency: int, serial: int
) -> Any:
    if isinstance(statement, PreparedStatement):
        bound = statement.bind(list(parameters))
        bound.consistency_level = consistency
        bound.serial_consistency_level = serial
        bound.fetch_size = None
        return bound
    return SimpleStatement(statement, consistency_level=consistency, fetch_size=None)


def _settle(
    answer: asyncio.Future[list[Any]], rows: list[Any] | None, error: BaseException | None
) -> None:
    if answer.done():
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(rows or [])
