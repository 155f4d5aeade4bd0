"""The sibling socket's protocol over a real Unix socket, in this one process.

A sibling is this process's own server under another pid's name: a Unix
socket renamed keeps listening, and `gather_siblings` and `tell_siblings`
skip only the socket named after their own pid.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from host.processes import Recovery, SiblingServer, Trip, TripNotices, gather_siblings
from host.processes._siblings import parse_request, tell_siblings
from host.processes._supervisor import sibling_socket
from host.protect import BreakerPolicy, EndpointKey, Guards, Load, LoadShedder
from host.quotas import EndpointQuotas

KEY = ("tv", "/slow")
UNKNOWN = ("tv", "/nowhere")
SNAPSHOT = {"queue_depth": 3, "running": 1}
IDLE = Load(queued=0, own_oldest_wait_ms=0.0)
# A follower stays open one base cooldown past its sibling's deadline.
MARGIN = BreakerPolicy().cooldown_s
# Bounds a wait for a background task, never a speed expectation.
_TRIES = 500


class Sibling:
    """A sibling's breakers for the one endpoint it serves, `KEY`, behind a real socket."""

    def __init__(self, process_dir: Path, pid: int) -> None:
        self.trips: list[EndpointKey] = []
        self.guards = Guards(LoadShedder(max_queue=10), BreakerPolicy(), on_trip=self.trips.append)
        self.asked: list[Trip | Recovery] = []
        self.server = SiblingServer(process_dir, lambda: SNAPSHOT, self.follow)
        self.path = sibling_socket(process_dir, pid)

    def follow(self, notice: Trip | Recovery) -> bool:
        self.asked.append(notice)
        if notice.key != KEY:
            return False
        if isinstance(notice, Recovery):
            return self.guards.follow_recovery(notice.key)
        return self.guards.follow_trip(notice.key, notice.cooldown_s, 0.0)

    async def start(self) -> None:
        await self.server.start()
        sibling_socket(self.path.parent.parent, os.getpid()).rename(self.path)


@pytest.fixture
def process_dir() -> Iterator[Path]:
    # Short: a Unix socket's path may not be much longer than 100 bytes.
    path = Path(tempfile.mkdtemp(prefix="siblings-"))
    (path / "siblings").mkdir()
    yield path
    shutil.rmtree(path)


@pytest.fixture
async def sibling(process_dir: Path) -> AsyncIterator[Sibling]:
    served = Sibling(process_dir, os.getpid() + 1)
    await served.start()
    yield served
    await served.server.close()


async def send(path: Path, raw: bytes) -> bytes:
    """What the socket at `path` answers `raw` (written as it is, then the end of input)."""
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        writer.write(raw)
        await writer.drain()
        writer.write_eof()
        return await reader.read()
    finally:
        writer.close()


def trip_line(**trip: object) -> bytes:
    return json.dumps({"trip": trip}).encode() + b"\n"


async def test_a_snapshot_is_still_answered_to_whoever_asks(
    process_dir: Path, sibling: Sibling
) -> None:
    assert await gather_siblings(process_dir) == [SNAPSHOT]
    assert json.loads(await send(sibling.path, b'{"ask": "snapshot"}\n')) == SNAPSHOT


async def test_a_trip_opens_the_siblings_breaker_and_is_not_told_on(
    process_dir: Path, sibling: Sibling
) -> None:
    assert await tell_siblings(process_dir, Trip(*KEY, 5.0)) == 1
    assert sibling.guards.open_for(KEY, 1.0) == 4.0 + MARGIN
    refused = sibling.guards.admit(KEY, EndpointQuotas(), IDLE, 1.0)
    assert refused is not None
    assert refused.error == "circuit_open"
    # No echo: the sibling reports no trip of its own, so it tells nobody.
    assert sibling.trips == []


async def test_a_trip_for_an_endpoint_the_sibling_does_not_serve_is_ignored(
    process_dir: Path, sibling: Sibling
) -> None:
    assert await tell_siblings(process_dir, Trip(*UNKNOWN, 5.0)) == 0
    assert json.loads(await send(sibling.path, Trip(*UNKNOWN, 5.0).request_line())) == {
        "followed": False
    }
    assert await tell_siblings(process_dir, Recovery(*UNKNOWN)) == 0
    assert sibling.guards.open_breakers() == []


async def test_a_recovery_closes_the_siblings_breaker_once(
    process_dir: Path, sibling: Sibling
) -> None:
    assert await tell_siblings(process_dir, Trip(*KEY, 5.0)) == 1
    assert json.loads(await send(sibling.path, Recovery(*KEY).request_line())) == {"followed": True}
    assert sibling.guards.open_breakers() == []
    assert sibling.guards.admit(KEY, EndpointQuotas(), IDLE, 1.0) is None
    assert await tell_siblings(process_dir, Recovery(*KEY)) == 0


async def test_a_shorter_trip_keeps_the_later_deadline_and_a_long_one_is_capped(
    process_dir: Path, sibling: Sibling
) -> None:
    cap = BreakerPolicy().max_cooldown_s
    assert await tell_siblings(process_dir, Trip(*KEY, 10.0)) == 1
    assert await tell_siblings(process_dir, Trip(*KEY, 5.0)) == 0
    assert sibling.guards.open_for(KEY, 0.0) == 10.0 + MARGIN
    assert await tell_siblings(process_dir, Trip(*KEY, cap * 100)) == 1
    assert sibling.guards.open_for(KEY, 0.0) == cap + MARGIN


@pytest.mark.parametrize(
    "raw",
    [
        b"not json\n",
        b"\xff\xfe\n",
        b"[" * 3000 + b"\n",
        b"{}\n",
        b'{"ask": "everything"}\n',
        b'{"ask": "snapshot", "trip": {}}\n',
        trip_line(namespace="tv", path="/slow"),
        trip_line(namespace="tv", path="/slow", cooldown_s=5, until=1),
        trip_line(namespace="tv", path="/slow", cooldown_s="5"),
        trip_line(namespace="tv", path="/slow", cooldown_s=True),
        trip_line(namespace="tv", path="/slow", cooldown_s=-5),
        trip_line(namespace="tv", path="/slow", cooldown_s=0),
        trip_line(namespace=["tv"], path="/slow", cooldown_s=5),
        b'{"trip": {"namespace": "tv", "path": "/slow", "cooldown_s": NaN}}\n',
        b'{"trip": {"namespace": "tv", "path": "/slow", "cooldown_s": Infinity}}\n',
        b'{"recovered": {"namespace": "tv"}}\n',
        b'{"recovered": {"namespace": "tv", "path": "/slow", "cooldown_s": 5}}\n',
        b'{"recovered": {"namespace": "tv", "path": 5}}\n',
        b'{"recovered": ["tv", "/slow"]}\n',
        # No end of line: the sibling closed before finishing its request.
        trip_line(namespace="tv", path="/slow", cooldown_s=5).rstrip(b"\n"),
        b"",
    ],
)
async def test_a_malformed_request_is_ignored(sibling: Sibling, raw: bytes) -> None:
    assert await send(sibling.path, raw) == b""
    assert sibling.asked == []
    assert sibling.guards.open_breakers() == []
    assert json.loads(await send(sibling.path, b'{"ask": "snapshot"}\n')) == SNAPSHOT


async def test_an_oversized_request_is_not_read_to_its_end(sibling: Sibling) -> None:
    line = trip_line(namespace="tv", path="/slow" + "x" * 100_000, cooldown_s=5)
    try:
        answer = await send(sibling.path, line)
    except ConnectionError:
        answer = b""  # The sibling closed before reading it all: the kernel says so.
    assert answer == b""
    assert sibling.asked == []
    assert json.loads(await send(sibling.path, b'{"ask": "snapshot"}\n')) == SNAPSHOT


def test_requests_of_known_shape_are_parsed() -> None:
    assert parse_request(b'{"ask": "snapshot"}\n') == "snapshot"
    assert parse_request(Trip("tv", "/slow", 5.0).request_line()) == Trip("tv", "/slow", 5.0)
    assert parse_request(trip_line(namespace="tv", path="/slow", cooldown_s=5)) == Trip(
        "tv", "/slow", 5.0
    )
    assert parse_request(Recovery("tv", "/slow").request_line()) == Recovery("tv", "/slow")


async def test_a_sibling_that_does_not_answer_is_skipped(
    process_dir: Path, sibling: Sibling
) -> None:
    # One listens but never accepts; one is gone, its socket file left behind.
    stuck = socket.socket(socket.AF_UNIX)
    stuck.bind(str(sibling_socket(process_dir, 1)))
    stuck.listen()
    gone = socket.socket(socket.AF_UNIX)
    gone.bind(str(sibling_socket(process_dir, 2)))
    gone.close()
    try:
        assert await tell_siblings(process_dir, Trip(*KEY, 5.0)) == 1
        assert sibling.guards.open_for(KEY, 0.0) == 5.0 + MARGIN
    finally:
        stuck.close()


async def test_telling_returns_at_once_and_tells_in_the_background(
    process_dir: Path, sibling: Sibling
) -> None:
    notices = TripNotices(process_dir)
    notices.tell(Trip(*KEY, 5.0))
    # Nothing has been sent yet: `tell` only started a task.
    assert sibling.asked == []
    for _ in range(_TRIES):
        if sibling.guards.open_for(KEY, 0.0) is not None:
            break
        await asyncio.sleep(0.01)
    assert sibling.guards.open_for(KEY, 0.0) == 5.0 + MARGIN
    await notices.close()
