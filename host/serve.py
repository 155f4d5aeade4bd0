"""Running the host: the Quart app on Hypercorn until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import signal

from hypercorn.asyncio import serve as hypercorn_serve
from hypercorn.config import Config

from host.app import create_app
from host.device import Front
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


async def serve(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    quart = create_app(settings)
    app = Front(quart, lambda: quart.extensions.get(STATE_KEY))
    await hypercorn_serve(app, hypercorn_config(settings), shutdown_trigger=stop.wait)


def run(settings: Settings) -> None:
    asyncio.run(serve(settings))
