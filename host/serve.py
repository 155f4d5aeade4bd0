"""Running the host: the Quart app on Hypercorn until SIGINT or SIGTERM, in one process
or in several on one listening socket."""

from __future__ import annotations

import asyncio
import signal
import socket

import uvloop
from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config

from host.app import create_app
from host.device import Front
from host.processes import exit_with_parent, supervise
from host.settings import Settings
from host.state import STATE_KEY

# Long enough for in-flight scripts (bounded by their wall-clock quota) to finish.
_GRACEFUL_SHUTDOWN_SECONDS = 10.0


def hypercorn_config(settings: Settings, listener_fd: int | None = None) -> Config:
    config = Config()
    config.bind = [
        f"fd://{listener_fd}" if listener_fd is not None else f"{settings.host}:{settings.port}"
    ]
    # The host writes its own structured request line; Hypercorn's would repeat it.
    config.accesslog = None
    config.errorlog = "-"
    config.graceful_timeout = _GRACEFUL_SHUTDOWN_SECONDS
    return config


async def serve(settings: Settings, listener_fd: int | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    quart = create_app(settings)
    app = Front(quart, lambda: quart.extensions.get(STATE_KEY))
    await hypercorn_serve(app, hypercorn_config(settings, listener_fd), shutdown_trigger=stop.wait)


def run(settings: Settings, processes: int = 1, *, pin_cores: bool = True) -> int:
    """Serve until stopped; the exit status."""
    if processes == 1:
        uvloop.run(serve(settings))
        return 0
    return supervise(settings, processes, serve_child, pin_cores=pin_cores)


def serve_child(settings: Settings, listener: socket.socket) -> None:
    """One process of a multi-process host, on the listening socket its parent bound."""
    exit_with_parent()
    # Hypercorn makes its own socket object from the descriptor and owns it.
    uvloop.run(serve(settings, listener.detach()))
