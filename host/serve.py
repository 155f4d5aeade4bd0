"""Running the host: the Quart app on Hypercorn until SIGINT or SIGTERM, in one process
or in several that the parent hands its connections to."""

from __future__ import annotations

import asyncio
import signal
import socket

import uvloop
from hypercorn.config import Config

from host.app import create_app
from host.device import Front
from host.processes import exit_with_parent, serve_handed, serve_listening, supervise
from host.settings import Settings
from host.state import STATE_KEY

# Long enough for in-flight scripts (bounded by their wall-clock quota) to finish.
_GRACEFUL_SHUTDOWN_SECONDS = 10.0


def hypercorn_config(settings: Settings) -> Config:
    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    # The host writes its own structured request line; Hypercorn's would repeat it.
    config.accesslog = None
    config.errorlog = "-"
    config.graceful_timeout = _GRACEFUL_SHUTDOWN_SECONDS
    return config


async def serve(settings: Settings, channel: socket.socket | None = None) -> None:
    """Serve on the configured address, or on the connections a parent hands down `channel`."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    quart = create_app(settings)
    app = Front(quart, lambda: quart.extensions.get(STATE_KEY))
    config = hypercorn_config(settings)
    if channel is None:
        await serve_listening(app, config, stop)
    else:
        await serve_handed(app, config, channel, stop)


def run(settings: Settings, processes: int = 1, *, pin_cores: bool = True) -> int:
    """Serve until stopped; the exit status."""
    if processes == 1:
        uvloop.run(serve(settings))
        return 0
    return supervise(settings, processes, serve_child, pin_cores=pin_cores)


def serve_child(settings: Settings, channel: socket.socket) -> None:
    """One process of a multi-process host, on the connections its parent hands it."""
    exit_with_parent()
    uvloop.run(serve(settings, channel))
