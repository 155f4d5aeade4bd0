"""What the processes of one host tell each other: each one's recent traffic, on request.

A process answers on a Unix socket in the host's shared directory with a JSON
snapshot and closes; the process serving `/admin/v1/stats` asks all the
others and merges. Asking on demand keeps the request path free of any
cross-process bookkeeping; a sibling that does not answer in time is left out
of the answer (the response says how many processes it covers).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from host.logs import get_logger
from host.processes._supervisor import sibling_socket

log = get_logger("scripthost.processes")
Snapshot = dict[str, Any]
# Far beyond what answering takes; only a sibling stuck or dying is left out.
_ASK_SECONDS = 2.0


class SiblingServer:
    """This process's answer to its siblings, on `siblings/<pid>.sock`."""

    def __init__(self, process_dir: Path, snapshot: Callable[[], Snapshot]) -> None:
        self._path = sibling_socket(process_dir, os.getpid())
        self._snapshot = snapshot
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        temporary = self._path.with_suffix(".starting")
        self._server = await asyncio.start_unix_server(self._answer, path=str(temporary))
        # The supervisor reads the final name as "this child is serving".
        temporary.replace(self._path)

    async def close(self) -> None:
        # The socket file stays: the supervisor reads it as "this child had been
        # serving" (so it is replaced, not taken for a failed start) and removes it.
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _answer(self, _: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(json.dumps(self._snapshot()).encode())
            await writer.drain()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def gather_siblings(process_dir: Path) -> list[Snapshot]:
    """The snapshots of every other process of this host that answers."""
    own = sibling_socket(process_dir, os.getpid())
    paths = [path for path in sibling_socket(process_dir, 0).parent.glob("*.sock") if path != own]
    answers = await asyncio.gather(*(_ask(path) for path in paths))
    return [answer for answer in answers if answer is not None]


async def _ask(path: Path) -> Snapshot | None:
    try:
        async with asyncio.timeout(_ASK_SECONDS):
            reader, writer = await asyncio.open_unix_connection(str(path))
            try:
                body = await reader.read()
            finally:
                writer.close()
        answer: Snapshot = json.loads(body)
        return answer
    except (OSError, TimeoutError, ValueError) as error:
        log.warning("a sibling process did not answer", socket=path.name, error=repr(error))
        return None
