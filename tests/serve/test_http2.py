"""HTTP/2 without TLS (prior knowledge), which Hypercorn serves on the same port as HTTP/1.1."""

from __future__ import annotations

import asyncio
import contextlib
import json
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import hpack
import httpx
import pytest
import wasmtime

from tests.support.hosts import HostProcess

ECHO_WAT = Path(__file__).parent.parent / "sandbox" / "wat" / "echo.wat"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    served = HostProcess(tmp_path_factory.mktemp("http2") / "host").start()
    javy_echo = bytes(wasmtime.wat2wasm(ECHO_WAT.read_text()))
    with served.admin() as admin:
        for endpoint in ("echo", "off"):
            admin.put(f"/endpoints/tv/{endpoint}", json={"methods": ["GET", "POST"]})
            admin.post(
                f"/endpoints/tv/{endpoint}/-/versions",
                files={"module": ("echo.wasm", javy_echo, "application/wasm")},
            ).raise_for_status()
        admin.put("/endpoints/tv/off/-/enabled", json={"enabled": False}).raise_for_status()
    yield served
    served.stop()


def http2_device(host: HostProcess) -> httpx.Client:
    return httpx.Client(base_url=host.url, http1=False, http2=True, timeout=30.0)


def test_a_device_request_over_http2_is_served_as_over_http1(host: HostProcess) -> None:
    with http2_device(host) as device:
        echoed = device.post("/tv/echo", content=b"over two", headers={"x-request-id": "h2-1"})
        missing = device.get("/tv/nowhere")
    assert echoed.http_version == "HTTP/2"
    assert echoed.status_code == 200
    assert echoed.headers["x-request-id"] == "h2-1"
    assert json.loads(echoed.content)["body"] == "over two"
    assert missing.status_code == 404
    assert missing.json()["request_id"] == missing.headers["x-request-id"]


async def test_concurrent_streams_on_one_connection_are_each_answered(host: HostProcess) -> None:
    one_connection = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(
        base_url=host.url, http1=False, http2=True, limits=one_connection, timeout=30.0
    ) as device:
        responses = await asyncio.gather(
            *(device.post("/tv/echo", content=f"stream {n}".encode()) for n in range(40))
        )
    assert {response.http_version for response in responses} == {"HTTP/2"}
    bodies = [json.loads(response.content)["body"] for response in responses]
    assert bodies == [f"stream {n}" for n in range(40)]
    assert len({response.headers["x-request-id"] for response in responses}) == 40


@dataclass
class _Stream:
    """One request of `exchange_on_one_connection`, and what came back."""

    path: str
    body: bytes
    start_after_s: float = 0.0
    unsent: bytes = b""
    status: int | None = None
    received: bytes = b""
    ended: bool = False


def exchange_on_one_connection(host: HostProcess, streams: list[_Stream]) -> None:
    """POST each stream's body on one HTTP/2 connection, at once, reading whatever
    arrives while sending.

    Not httpx: on one connection, its request waiting for flow control can block
    on a read after another request has taken the window update it waits for.
    """
    connection = _client()
    ids: dict[int, _Stream] = {}
    waiting = list(streams)
    with socket.create_connection(("127.0.0.1", host.port)) as sock:
        sock.setblocking(False)
        started = time.monotonic()
        while time.monotonic() - started < 20 and not all(stream.ended for stream in streams):
            for stream in [s for s in waiting if time.monotonic() - started >= s.start_after_s]:
                waiting.remove(stream)
                ids[_start(connection, stream)] = stream
            for stream_id, stream in ids.items():
                _send_what_the_window_allows(connection, stream_id, stream)
            sock.sendall(connection.data_to_send())
            if not select.select([sock], [], [], 0.01)[0]:
                continue
            if not (data := sock.recv(1 << 16)):
                return  # the host closed the connection
            for event in connection.receive_data(data):
                _note(connection, ids, event)


def _client() -> h2.connection.H2Connection:
    connection = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    connection.initiate_connection()
    return connection


def _headers(method: str, path: str) -> list[tuple[str, str]]:
    return [(":method", method), (":path", path), (":scheme", "http"), (":authority", "x")]


def _start(connection: h2.connection.H2Connection, stream: _Stream) -> int:
    stream_id: int = connection.get_next_available_stream_id()
    connection.send_headers(stream_id, _headers("POST", stream.path))
    stream.unsent = stream.body
    return stream_id


def _send_what_the_window_allows(
    connection: h2.connection.H2Connection, stream_id: int, stream: _Stream
) -> None:
    while stream.unsent and (window := connection.local_flow_control_window(stream_id)) > 0:
        size = min(window, connection.max_outbound_frame_size, len(stream.unsent))
        piece, stream.unsent = stream.unsent[:size], stream.unsent[size:]
        connection.send_data(stream_id, piece, end_stream=not stream.unsent)


def _note(connection: h2.connection.H2Connection, ids: dict[int, _Stream], event: object) -> None:
    if isinstance(event, h2.events.ResponseReceived):
        ids[event.stream_id].status = int(dict(event.headers)[b":status"])
    elif isinstance(event, h2.events.DataReceived):
        ids[event.stream_id].received += event.data
        connection.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
    elif isinstance(event, h2.events.StreamEnded):
        ids[event.stream_id].ended = True


def test_a_body_over_the_limit_refuses_its_stream_not_those_beside_it(host: HostProcess) -> None:
    over = _Stream("/tv/echo", b"x" * (4 << 20))
    beside = [_Stream("/tv/echo", f"beside {n}".encode()) for n in range(8)]
    exchange_on_one_connection(host, [over, *beside])
    assert (over.status, json.loads(over.received)["error"]) == (413, "request_too_large")
    assert [(stream.status, json.loads(stream.received)["body"]) for stream in beside] == [
        (200, f"beside {n}") for n in range(8)
    ]


def test_a_body_its_refusal_never_reads_does_not_stall_the_connection(host: HostProcess) -> None:
    # A switched-off endpoint's refusal is held for a while and never reads the
    # body, whose frames queue for a reader that will not come.
    refused = _Stream("/tv/off", b"x" * (512 << 10))
    meanwhile = _Stream("/tv/echo", b"meanwhile", start_after_s=0.3)
    exchange_on_one_connection(host, [refused, meanwhile])
    assert (refused.status, json.loads(refused.received)["error"]) == (503, "disabled")
    assert (meanwhile.status, json.loads(meanwhile.received)["body"]) == (200, "meanwhile")


def _received_events(
    connection: h2.connection.H2Connection, sock: socket.socket
) -> list[object] | None:
    """Whatever the host has sent so far, as events; None once it has closed the connection."""
    try:
        data = sock.recv(65536)
    except TimeoutError:
        return []
    if not data:
        return None
    events: list[object] = list(connection.receive_data(data))
    sock.sendall(connection.data_to_send())
    return events


def test_a_connection_that_resets_every_stream_it_opens_is_told_to_go_away(
    host: HostProcess,
) -> None:
    # HTTP/2 "rapid reset" (CVE-2023-44487): each stream opened and reset at
    # once costs the client one frame, the server a request. Hypercorn ends a
    # connection after `keep_alive_max_requests` (1000) streams.
    connection = _client()
    opened = 0
    goaway: h2.events.ConnectionTerminated | None = None
    with socket.create_connection(("127.0.0.1", host.port), timeout=0.05) as sock:
        sock.sendall(connection.data_to_send())
        while goaway is None and opened < 3000:
            for _ in range(50):
                stream = connection.get_next_available_stream_id()
                connection.send_headers(stream, _headers("GET", "/tv/echo"), end_stream=True)
                connection.reset_stream(stream)
                opened += 1
            sock.sendall(connection.data_to_send())
            if (events := _received_events(connection, sock)) is None:
                break
            told = [e for e in events if isinstance(e, h2.events.ConnectionTerminated)]
            goaway = told[0] if told else None
    assert goaway is not None, f"{opened} streams opened and reset, and the host let them all be"
    assert 1000 <= opened <= 1200
    assert host.status("/healthz") == 200


def _frame(kind: int, flags: int, stream_id: int, payload: bytes) -> bytes:
    head = len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream_id.to_bytes(4, "big")
    return head + payload


def test_a_header_block_that_never_ends_is_cut_off(host: HostProcess) -> None:
    # A HEADERS frame without END_HEADERS, then CONTINUATION frames without end
    # (the "CONTINUATION flood"): a server that buffers the block runs out of memory.
    headers, continuation = 0x1, 0x9
    connection = _client()
    block = hpack.Encoder().encode(_headers("GET", "/healthz"))
    more = hpack.Encoder().encode([(f"x-more-{n}", "v" * 200) for n in range(70)])[:16000]
    sent = 0
    with socket.create_connection(("127.0.0.1", host.port), timeout=10) as sock:
        sock.sendall(connection.data_to_send() + _frame(headers, 0, 1, block))
        with contextlib.suppress(ConnectionError):
            while sent < 64 << 20:
                sock.sendall(_frame(continuation, 0, 1, more))
                sent += len(more)
    assert sent < 64 << 20, "64 MiB of one header block taken in"
    assert host.status("/healthz") == 200
