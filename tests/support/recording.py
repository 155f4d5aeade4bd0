"""A real HTTP service on 127.0.0.1 that records what it receives and misbehaves on request.

It runs on threads of the test process, so a test can read what arrived
(how many calls, how many at once) and decide when held calls are answered.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# No call is ever held longer than this, so a broken test cannot hang the suite.
_LONGEST_HOLD_S = 60.0


@dataclass(frozen=True, slots=True)
class Received:
    method: str
    path: str


class RecordingBackend:
    """Answers every call with `answer` (JSON), after whatever misbehaviour it is set to.

    - `reset_first`: the first N calls get their connection reset, no answer.
    - `gather`: each call waits until that many are in flight at once, or
      `patience` seconds have passed, before it is answered.
    - `hold()`: calls wait until `release()`.
    - `headers`: sent with every answer, after content-type and content-length.
    """

    def __init__(
        self,
        answer: Any = None,
        *,
        reset_first: int = 0,
        gather: int = 0,
        patience: float = 0.0,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.answer = json.dumps({} if answer is None else answer).encode()
        self.headers = headers
        self.reset_first = reset_first
        self.gather = gather
        self.patience = patience
        self.received: list[Received] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._held = False
        # Bumped each time `gather` calls are in flight together: it frees them all.
        self._gatherings = 0
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def hold(self) -> None:
        with self._changed:
            self._held = True

    def release(self) -> None:
        with self._changed:
            self._held = False
            self._changed.notify_all()

    def wait_for_in_flight(self, count: int, timeout: float = 30.0) -> None:
        """Block until `count` calls are in flight here at once (fail after `timeout`)."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.in_flight >= count, timeout):
                raise AssertionError(f"{self.in_flight} calls in flight, not {count}")

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        with self._changed:
            self.received.append(Received(handler.command, handler.path))
            if len(self.received) <= self.reset_first:
                _reset(handler)
                return
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            gathering = self._gatherings
            if self.in_flight >= self.gather:
                self._gatherings += 1
            self._changed.notify_all()
            if self.gather:
                self._changed.wait_for(lambda: self._gatherings > gathering, self.patience)
            self._changed.wait_for(lambda: not self._held, _LONGEST_HOLD_S)
        try:
            handler.send_response(200)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(self.answer)))
            for name, value in self.headers:
                handler.send_header(name, value)
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(self.answer)
        finally:
            with self._changed:
                self.in_flight -= 1
                self._changed.notify_all()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        backend = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_one_request(self) -> None:
                try:
                    super().handle_one_request()
                except ConnectionError:
                    self.close_connection = True

            def do_GET(self) -> None:
                backend._serve(self)

            do_HEAD = do_OPTIONS = do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def start(self) -> RecordingBackend:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()


def _reset(handler: BaseHTTPRequestHandler) -> None:
    """Close the connection with a TCP reset, as a crashing service would."""
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.close_connection = True


@contextmanager
def recording_backend(answer: Any = None, **behaviour: Any) -> Iterator[RecordingBackend]:
    backend = RecordingBackend(answer, **behaviour).start()
    try:
        yield backend
    finally:
        backend.stop()
