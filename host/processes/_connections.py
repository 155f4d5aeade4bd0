"""Serving an app on connections with Hypercorn's lifespan and per-connection server:
connections from a listening socket of the process's own (one process), or handed
down by the parent (`_handoff`).

Both run what Hypercorn's `worker_serve` runs, with two differences:

- A connection is closed as soon as its client has closed it. Hypercorn 0.18's
  `TCPServer` holds an idle kept-alive connection whose client has gone until
  its keep-alive timeout runs out (5 s): the connection's task group waits for
  the idle timer, which nothing stops. Every such connection holds a
  descriptor, so a device that opens and closes connections could hold
  thousands.
- On HTTP/2, a request body its app no longer reads is dropped. Hypercorn 0.18
  hands each stream's body to its app through a queue of 10 messages, and the
  connection's read loop waits while that queue is full: a refusal that does
  not read the body (a held 503, 413 at the limit) stalls every stream on the
  connection, for good, as the app's own last message then waits on the same
  queue. Body data that arrives after the response has ended the stream raises
  `KeyError` (pgjones/hypercorn#329), which ends the connection. Either way
  the requests multiplexed beside it are lost, behind a load balancer other
  devices' ones.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import h2.events
import hypercorn.protocol
from hypercorn.asyncio.lifespan import Lifespan
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.protocol.h2 import H2Protocol
from hypercorn.typing import AppWrapper, ASGIFramework, LifespanState
from hypercorn.utils import repr_socket_addr, wrap_app


async def serve_listening(app: ASGIFramework, config: Config, stop: asyncio.Event) -> None:
    """Serve `app` on the addresses `config` binds until `stop` is set; then finish the
    connections within the graceful timeout."""
    async with hosting(app, config) as connections:
        servers = []
        for sock in config.create_sockets().insecure_sockets:
            server = await asyncio.start_server(
                connections.serve, sock=sock, backlog=config.backlog
            )
            servers.append(server)
            bind = repr_socket_addr(sock.family, sock.getsockname())
            await config.log.info(f"Running on http://{bind} (CTRL + C to quit)")
        try:
            await stop.wait()
        finally:
            for server in servers:
                server.close()


@contextlib.asynccontextmanager
async def hosting(app: ASGIFramework, config: Config) -> AsyncIterator[Connections]:
    """`app` started (its lifespan), and its connections, finished on the way out."""
    loop = asyncio.get_running_loop()
    wrapped = wrap_app(app, config.wsgi_max_body_size, "asgi")
    lifespan_state: LifespanState = {}
    lifespan = Lifespan(wrapped, config, loop, lifespan_state)
    lifespan_task = loop.create_task(lifespan.handle_lifespan())
    await lifespan.wait_for_startup()
    if lifespan_task.done() and (error := lifespan_task.exception()) is not None:
        raise error
    connections = Connections(wrapped, config, lifespan_state)
    try:
        yield connections
    finally:
        await connections.finish(config.graceful_timeout)
        await lifespan.wait_for_shutdown()
        lifespan_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lifespan_task


class Connections:
    """The connections a process serves, each in a task awaited at shutdown."""

    def __init__(self, app: AppWrapper, config: Config, lifespan_state: LifespanState) -> None:
        self._loop = asyncio.get_running_loop()
        self._app = app
        self._config = config
        self._lifespan_state = lifespan_state
        self._context = WorkerContext(None)
        self._tasks: set[asyncio.Task[Any]] = set()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one connection until it closes (an `asyncio.start_server` callback)."""
        task = asyncio.current_task()
        assert task is not None
        self.track(task)
        await _TCPServer(
            self._app, self._loop, self._config, self._context, self._lifespan_state, reader, writer
        )

    def track(self, task: asyncio.Task[Any]) -> None:
        """Keep `task` alive and awaited at shutdown."""
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def finish(self, within_s: float) -> None:
        # As in Hypercorn's own workers: idle kept-alive connections close at once.
        await self._context.terminated.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=within_s)


class _TCPServer(TCPServer):
    """Hypercorn's per-connection server, closing the connection once its client has."""

    async def _read_data(self) -> None:
        await super()._read_data()
        # The client's side is closed and nothing more will be read: the idle timer is
        # all that would keep the task group, and with it the socket, open.
        await self.idle_task.stop()


class _H2Protocol(H2Protocol):
    """Hypercorn's HTTP/2, dropping the body of a stream its app is done with."""

    async def _handle_events(self, events: list[h2.events.Event]) -> None:
        # One at a time: handling one event can close a stream a later one is for.
        for event in events:
            if isinstance(event, h2.events.DataReceived) and event.stream_id not in self.streams:
                # Nobody reads it, but it counts against the connection's window.
                self.connection.acknowledge_received_data(
                    event.flow_controlled_length, event.stream_id
                )
            else:
                await super()._handle_events([event])
        await self._flush()

    async def _close_stream(self, stream_id: int) -> None:
        stream = self.streams.get(stream_id)
        if stream is not None and stream.app_put is not None:
            # `app_put` is the `put` of the stream's queue to its app. Emptying it
            # lets a read loop waiting to put more go on, and the app's
            # disconnect message in.
            put: Any = stream.app_put
            unread: asyncio.Queue[object] = put.__self__
            while not unread.empty():
                unread.get_nowait()
        await super()._close_stream(stream_id)


# Hypercorn's `ProtocolWrapper` makes its HTTP/2 protocol by this name; it has no
# other seam for a class of ours.
hypercorn.protocol.H2Protocol = _H2Protocol  # type: ignore[attr-defined]
