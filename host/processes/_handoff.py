"""Connections handed from the parent to a child, and the child serving them.

Each child shares a Unix socket pair (SOCK_SEQPACKET) with its parent. The
parent sends each connection it accepts as a descriptor in a one-byte
message (`HANDED`); the child says `READY` once it serves, and the parent
deals to it from then on.

The child serves them as a single process serves the connections it accepts
(`_connections`), but takes them from the channel instead of a listening
socket of its own.
"""

from __future__ import annotations

import asyncio
import socket

from hypercorn.config import Config
from hypercorn.typing import ASGIFramework

from host.logs import get_logger
from host.processes._connections import Connections, hosting

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
    async with hosting(app, config) as connections:
        handed = _Handed(connections, channel, stop)
        channel.send(READY)
        channel.setblocking(False)
        loop.add_reader(channel.fileno(), handed.take)
        try:
            await stop.wait()
        finally:
            loop.remove_reader(channel.fileno())


class _Handed:
    """A child's channel: the connections on it, taken and served."""

    def __init__(
        self, connections: Connections, channel: socket.socket, parent_gone: asyncio.Event
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._connections = connections
        self._channel = channel
        self._parent_gone = parent_gone

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

    def _serve(self, connection: socket.socket) -> None:
        self._connections.track(self._loop.create_task(self._connect(connection)))

    async def _connect(self, connection: socket.socket) -> None:
        def protocol() -> asyncio.StreamReaderProtocol:
            reader = asyncio.StreamReader(loop=self._loop)
            return asyncio.StreamReaderProtocol(reader, self._connections.serve, loop=self._loop)

        try:
            await self._loop.connect_accepted_socket(protocol, connection)
        except OSError as error:  # Gone before it could be served.
            log.debug("a handed connection could not be served", error=repr(error))
            connection.close()
