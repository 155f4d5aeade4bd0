"""Connections handed from the parent to a child, and the child serving them.

Each child shares a Unix socket pair (SOCK_SEQPACKET) with its parent. The
parent sends each connection it accepts as a descriptor in a one-byte
message (`HANDED`); the child says `READY` once it serves, and the parent
deals to it from then on.

The child runs what Hypercorn's `worker_serve` runs, Hypercorn's own lifespan
and per-connection server, but takes its connections from the channel
instead of accepting them from a listening socket of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

from hypercorn.asyncio.lifespan import Lifespan
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.typing import AppWrapper, ASGIFramework, LifespanState
from hypercorn.utils import wrap_app

from host.logs import get_logger

log = get_logger("scripthost.processes")

HANDED = b"h"
READY = b"r"
# Connections taken from the channel per wake-up, before the loop runs anything else.
_TAKE_AT_ONCE = 64


def channel_pair() -> tuple[socket.socket, socket.socket]:
    """(the parent's end, the child's end)."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def hand_over(channel: socket.socket, connection: socket.socket) -> None:
    """Send `connection` down a child's channel; the caller then closes its own copy.

    Raises OSError (BlockingIOError when the child is not keeping up) if it was not sent.
    """
    socket.send_fds(channel, [HANDED], [connection.fileno()])


async def serve_handed(
    app: ASGIFramework, config: Config, channel: socket.socket, stop: asyncio.Event
) -> None:
    """Serve `app` on the connections the parent hands down `channel` until `stop` is set
    or the parent closes the channel; then finish them within the graceful timeout."""
    loop = asyncio.get_running_loop()
    wrapped = wrap_app(app, config.wsgi_max_body_size, "asgi")
    lifespan_state: LifespanState = {}
    lifespan = Lifespan(wrapped, config, loop, lifespan_state)
    lifespan_task = loop.create_task(lifespan.handle_lifespan())
    await lifespan.wait_for_startup()
    if lifespan_task.done() and (error := lifespan_task.exception()) is not None:
        raise error
    connections = _Connections(wrapped, config, lifespan_state, channel, stop)
    channel.send(READY)
    channel.setblocking(False)
    loop.add_reader(channel.fileno(), connections.take)
    try:
        await stop.wait()
    finally:
        loop.remove_reader(channel.fileno())
        await connections.finish(config.graceful_timeout)
        await lifespan.wait_for_shutdown()
        lifespan_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lifespan_task


class _Connections:
    """A child's connections: taken from the channel and served."""

    def __init__(
        self,
        app: AppWrapper,
        config: Config,
        lifespan_state: LifespanState,
        channel: socket.socket,
        parent_gone: asyncio.Event,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._app = app
        self._config = config
        self._lifespan_state = lifespan_state
        self._channel = channel
        self._parent_gone = parent_gone
        self._context = WorkerContext(None)
        self._tasks: set[asyncio.Task[Any]] = set()

    def take(self) -> None:
        """Start serving what the channel holds (called when it is readable)."""
        for _ in range(_TAKE_AT_ONCE):
            try:
                message, descriptors, _, _ = socket.recv_fds(self._channel, 1, 1)
            except BlockingIOError:
                return
            if not message:  # The parent closed its end: it is stopping or gone.
                self._loop.remove_reader(self._channel.fileno())
                self._parent_gone.set()
                return
            for descriptor in descriptors:
                self._serve(socket.socket(fileno=descriptor))

    async def finish(self, within_s: float) -> None:
        # As in Hypercorn's own workers: idle kept-alive connections close at once.
        await self._context.terminated.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=within_s)

    def _serve(self, connection: socket.socket) -> None:
        self._track(self._loop.create_task(self._connect(connection)))

    def _track(self, task: asyncio.Task[Any]) -> None:
        """Keep `task` alive and awaited at shutdown."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _connect(self, connection: socket.socket) -> None:
        def protocol() -> asyncio.StreamReaderProtocol:
            reader = asyncio.StreamReader(loop=self._loop)
            return asyncio.StreamReaderProtocol(reader, self._on_connected, loop=self._loop)

        try:
            await self._loop.connect_accepted_socket(protocol, connection)
        except OSError as error:  # Gone before it could be served.
            log.debug("a handed connection could not be served", error=repr(error))
            connection.close()

    async def _on_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._track(task)
        await TCPServer(
            self._app, self._loop, self._config, self._context, self._lifespan_state, reader, writer
        )
