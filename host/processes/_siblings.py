"""What the processes of one host tell each other: recent traffic on request, and trips.

A process answers on a Unix socket in the host's shared directory. Whoever
connects writes one JSON line saying what it wants, and the process answers
and closes:

    {"ask": "snapshot"}   its recent traffic, as JSON (`gather_siblings`): the
                          process serving `/admin/v1/stats` asks all the
                          others and merges
    {"trip": {"namespace": ..., "path": ..., "cooldown_s": ...}}
                          one of its siblings' circuit breakers just opened for
                          that long (`TripNotices`); it answers whether it
                          opened or kept open its own
    {"recovered": {"namespace": ..., "path": ...}}
                          a sibling's probe of that endpoint succeeded and
                          closed its breaker; it answers whether it closed its own

Asking on demand keeps the request path free of any cross-process
bookkeeping; a sibling that does not answer in time is left out (the stats
say how many processes they cover; a trip is simply not followed there).
The socket is in the host's private temporary directory, but what arrives
on it is still checked as if anyone had written it: one line of at most
`_MAX_REQUEST_BYTES`, of known shape, or it is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeGuard

from host.logs import get_logger
from host.processes._supervisor import sibling_socket

log = get_logger("scripthost.processes")
Snapshot = dict[str, Any]
# Far beyond what answering takes; only a sibling stuck or dying is left out.
_ASK_SECONDS = 2.0
# A trip told later than this is not worth waiting for: the teller moves on.
_TELL_SECONDS = 1.0
# Far beyond the longest request line: an endpoint path is short.
_MAX_REQUEST_BYTES = 4096
_SNAPSHOT_REQUEST = b'{"ask":"snapshot"}\n'
# The answers to a trip or a recovery.
_FOLLOWED = b'{"followed":true}'
_IGNORED = b'{"followed":false}'


@dataclass(frozen=True, slots=True)
class _EndpointNotice:
    """What a sibling tells of its breaker for endpoint (namespace, path)."""

    # The request line's one key.
    KIND: ClassVar[str]

    namespace: str
    path: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.path)

    def request_line(self) -> bytes:
        return json.dumps({self.KIND: dataclasses.asdict(self)}).encode() + b"\n"


@dataclass(frozen=True, slots=True)
class Trip(_EndpointNotice):
    """A sibling's breaker for the endpoint opened for `cooldown_s`."""

    KIND = "trip"

    cooldown_s: float


@dataclass(frozen=True, slots=True)
class Recovery(_EndpointNotice):
    """A sibling's probe of the endpoint succeeded: its breaker closed."""

    KIND = "recovered"


# What a sibling tells of one of its breakers.
Notice = Trip | Recovery
# What a sibling asked for: its snapshot, or to follow a notice.
Request = Literal["snapshot"] | Notice
# Follows a sibling's notice; True if this process's breaker changed (opened, stays open
# longer, or closed).
FollowNotice = Callable[[Notice], bool]


class SiblingServer:
    """This process's answer to its siblings, on `siblings/<pid>.sock`."""

    def __init__(
        self,
        process_dir: Path,
        snapshot: Callable[[], Snapshot],
        follow: FollowNotice | None = None,
    ) -> None:
        self._path = sibling_socket(process_dir, os.getpid())
        self._snapshot = snapshot
        self._follow = follow
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        temporary = self._path.with_suffix(".starting")
        self._server = await asyncio.start_unix_server(
            self._answer, path=str(temporary), limit=_MAX_REQUEST_BYTES
        )
        # The supervisor reads the final name as "this child is serving".
        temporary.replace(self._path)

    async def close(self) -> None:
        # The socket file stays: the supervisor reads it as "this child had been
        # serving" (so it is replaced, not taken for a failed start) and removes it.
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_request(reader)
            if request == "snapshot":
                writer.write(json.dumps(self._snapshot()).encode())
            elif request is not None:
                followed = self._follow is not None and self._follow(request)
                writer.write(_FOLLOWED if followed else _IGNORED)
            await writer.drain()
        except ConnectionError:
            pass  # The sibling gave up waiting: nothing to tell it.
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    """The one line a sibling sent, or None (logged) if it sent no request this host knows."""
    try:
        async with asyncio.timeout(_ASK_SECONDS):
            line = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError:
        log.warning("a sibling's request was too long; ignored", limit=_MAX_REQUEST_BYTES)
        return None
    except (asyncio.IncompleteReadError, TimeoutError):
        log.warning("a sibling sent no complete request; ignored")
        return None
    request = parse_request(line)
    if request is None:
        log.warning("a sibling's request was malformed; ignored", length=len(line))
    return request


def parse_request(line: bytes) -> Request | None:
    """What a request line asks for, or None if it is not a request of a known shape."""
    try:
        message = json.loads(line)
    except (ValueError, RecursionError):  # Deeply nested lists exhaust the parser's stack.
        return None
    if message == {"ask": "snapshot"}:
        return "snapshot"
    if isinstance(message, dict) and message.keys() == {Trip.KIND}:
        return _trip(message[Trip.KIND])
    if isinstance(message, dict) and message.keys() == {Recovery.KIND}:
        return _recovery(message[Recovery.KIND])
    return None


def _trip(value: object) -> Trip | None:
    if not _is_endpoint(value, {"cooldown_s"}):
        return None
    namespace, path, seconds = value["namespace"], value["path"], value["cooldown_s"]
    # JSON numbers only (bool is an int to Python), and Python's json reads NaN and Infinity.
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return None
    if not (math.isfinite(seconds) and seconds > 0):
        return None
    return Trip(namespace, path, float(seconds))


def _recovery(value: object) -> Recovery | None:
    if not _is_endpoint(value, set()):
        return None
    return Recovery(value["namespace"], value["path"])


def _is_endpoint(value: object, other_keys: set[str]) -> TypeGuard[dict[str, Any]]:
    """Whether `value` is an object of a string namespace and path and `other_keys`."""
    return (
        isinstance(value, dict)
        and value.keys() == {"namespace", "path"} | other_keys
        and isinstance(value["namespace"], str)
        and isinstance(value["path"], str)
    )


class TripNotices:
    """Tells every sibling, in the background, that one of this process's breakers opened
    or, after its probe, closed.

    `tell` is called on the request path (the run that tripped or probed has
    just ended), so it only starts a task: connecting to the siblings and
    waiting for their answers never holds up a request.
    """

    def __init__(self, process_dir: Path) -> None:
        self._process_dir = process_dir
        # Kept until done: the event loop holds only weak references to tasks.
        self._telling: set[asyncio.Task[int]] = set()

    def tell(self, notice: Notice) -> None:
        task = asyncio.get_running_loop().create_task(tell_siblings(self._process_dir, notice))
        self._telling.add(task)
        task.add_done_callback(self._telling.discard)

    async def close(self) -> None:
        for task in list(self._telling):
            task.cancel()
        await asyncio.gather(*self._telling, return_exceptions=True)


async def tell_siblings(process_dir: Path, notice: Notice) -> int:
    """Tell every other process of this host about `notice`; how many followed it."""
    request = notice.request_line()
    answers = await asyncio.gather(
        *(_exchange(path, request, _TELL_SECONDS) for path in _sibling_paths(process_dir))
    )
    return sum(1 for answer in answers if answer == _FOLLOWED)


async def gather_siblings(process_dir: Path) -> list[Snapshot]:
    """The snapshots of every other process of this host that answers."""
    answers = await asyncio.gather(*(_ask(path) for path in _sibling_paths(process_dir)))
    return [answer for answer in answers if answer is not None]


def _sibling_paths(process_dir: Path) -> list[Path]:
    own = sibling_socket(process_dir, os.getpid())
    return [path for path in own.parent.glob("*.sock") if path != own]


async def _ask(path: Path) -> Snapshot | None:
    body = await _exchange(path, _SNAPSHOT_REQUEST, _ASK_SECONDS)
    if body is None:
        return None
    try:
        answer: Snapshot = json.loads(body)
    except ValueError as error:
        log.warning(
            "a sibling process's snapshot was unreadable", socket=path.name, error=repr(error)
        )
        return None
    return answer


async def _exchange(path: Path, request: bytes, seconds: float) -> bytes | None:
    """Send `request` to the sibling at `path` and read its answer to the end; None
    (logged) if it does not answer within `seconds`."""
    try:
        async with asyncio.timeout(seconds):
            reader, writer = await asyncio.open_unix_connection(str(path))
            try:
                writer.write(request)
                await writer.drain()
                return await reader.read()
            finally:
                writer.close()
    except (OSError, TimeoutError) as error:
        log.warning("a sibling process did not answer", socket=path.name, error=repr(error))
        return None
