"""Serving connections, in this process, over real loopback sockets: on a listening
socket of the server's own (`serve_listening`) and handed down a channel
(`serve_handed`), as a child of a multi-process host takes them.

The keep-alive timeout is an hour here: a server that closed a connection only
when it ran out would hang the test, bounded by `_PATIENCE_S`, which guards
against a hang and is no speed expectation.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable

import pytest
from hypercorn.config import Config
from hypercorn.typing import (
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPResponseStartEvent,
    Scope,
)

from host.processes import serve_handed, serve_listening
from host.processes._handoff import READY, channel_pair, hand_over
from tests.support.servers import free_port

_PATIENCE_S = 10.0
REQUEST = b"GET / HTTP/1.1\r\nhost: scripthost\r\n\r\n"

Address = tuple[str, int]
Server = Callable[[Config, asyncio.Event], contextlib.AbstractAsyncContextManager[Address]]


async def hello(scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-length", b"2")],
    }
    await send(start)
    await send({"type": "http.response.body", "body": b"ok", "more_body": False})


def kept_alive_config() -> Config:
    config = Config()
    config.keep_alive_timeout = 3600.0
    config.graceful_timeout = _PATIENCE_S
    config.accesslog = None
    return config


@contextlib.asynccontextmanager
async def listening(config: Config, stop: asyncio.Event) -> AsyncIterator[Address]:
    address = ("127.0.0.1", free_port())
    config.bind = [f"{address[0]}:{address[1]}"]
    served = asyncio.create_task(serve_listening(hello, config, stop))
    for _ in range(500):
        with contextlib.suppress(ConnectionRefusedError):
            _, writer = await asyncio.open_connection(*address)
            writer.close()
            break
        await asyncio.sleep(0.01)
    try:
        yield address
    finally:
        stop.set()
        await asyncio.wait_for(served, _PATIENCE_S)


@contextlib.asynccontextmanager
async def handed(config: Config, stop: asyncio.Event) -> AsyncIterator[Address]:
    """A listener of the test's own, whose connections are handed down a channel."""
    loop = asyncio.get_running_loop()
    parent, child = channel_pair()
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    served = asyncio.create_task(serve_handed(hello, config, child, stop))
    parent.setblocking(False)
    assert await loop.sock_recv(parent, 16) == READY

    async def deal() -> None:
        while True:
            connection, _ = await loop.sock_accept(listener)
            with connection:
                hand_over(parent, connection)

    dealing = asyncio.create_task(deal())
    try:
        yield listener.getsockname()
    finally:
        dealing.cancel()
        stop.set()
        await asyncio.wait_for(served, _PATIENCE_S)
        for end in (listener, parent, child):
            end.close()


SERVERS = [pytest.param(listening, id="listening"), pytest.param(handed, id="handed")]


async def ask(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bytes:
    writer.write(REQUEST)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), _PATIENCE_S)
    assert head.startswith(b"HTTP/1.1 200"), head
    return await asyncio.wait_for(reader.readexactly(2), _PATIENCE_S)


@pytest.mark.parametrize("server", SERVERS)
async def test_a_connection_is_closed_once_its_client_has_closed_it(server: Server) -> None:
    async with server(kept_alive_config(), asyncio.Event()) as address:
        reader, writer = await asyncio.open_connection(*address)
        assert await ask(reader, writer) == b"ok"
        writer.write_eof()
        # The server's end closes: the client reads the end of the stream, not a wait
        # for the keep-alive timeout.
        assert await asyncio.wait_for(reader.read(), _PATIENCE_S) == b""
        writer.close()


@pytest.mark.parametrize("server", SERVERS)
async def test_a_connection_its_client_keeps_open_serves_request_after_request(
    server: Server,
) -> None:
    async with server(kept_alive_config(), asyncio.Event()) as address:
        reader, writer = await asyncio.open_connection(*address)
        for _ in range(3):
            assert await ask(reader, writer) == b"ok"
        writer.close()


@pytest.mark.parametrize("server", SERVERS)
async def test_stopping_closes_idle_kept_alive_connections_and_returns(server: Server) -> None:
    stop = asyncio.Event()
    async with server(kept_alive_config(), stop) as address:
        reader, writer = await asyncio.open_connection(*address)
        assert await ask(reader, writer) == b"ok"
        stop.set()
        assert await asyncio.wait_for(reader.read(), _PATIENCE_S) == b""
        writer.close()
