"""`print` and stderr inside a component: each line becomes a log line.

A component built by the SDK has no WASI stdout (writing to it traps), so
`sys.stdout` and `sys.stderr` are replaced by streams that send complete lines to the
`log` import: stdout at level info, stderr at level error, with a field `stream`.
"""

from __future__ import annotations

import io
import sys
from typing import Literal

from scripthost_sdk import _abi

StreamName = Literal["stdout", "stderr"]

# A partial line longer than this is sent anyway, so one giant unterminated write
# cannot grow the buffer without bound; the host caps the total volume.
MAX_LINE_CHARS = 8192


class LogStream(io.TextIOBase):
    """A text stream that writes each line to the request log."""

    encoding = "utf-8"

    def __init__(self, name: StreamName) -> None:
        super().__init__()
        self.stream_name: StreamName = name
        self.level: _abi.LogLevel = "info" if name == "stdout" else "error"
        self._partial = ""

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self._send(line)
        while len(self._partial) > MAX_LINE_CHARS:
            self._send(self._partial[:MAX_LINE_CHARS])
            self._partial = self._partial[MAX_LINE_CHARS:]
        return len(text)

    def flush(self) -> None:
        """Send a pending partial line, if any."""
        if self._partial:
            line, self._partial = self._partial, ""
            self._send(line)

    def _send(self, line: str) -> None:
        _abi.current().log_write(self.level, line, [("stream", self.stream_name)])


# Made once (at build time, in a component): every request then only points
# `sys.stdout` and `sys.stderr` at them, and each ends with their partial lines sent.
_LOG_STREAMS = LogStream("stdout"), LogStream("stderr")


def redirect_to_log() -> tuple[LogStream, LogStream]:
    """Point `sys.stdout` and `sys.stderr` at the request log."""
    sys.stdout, sys.stderr = _LOG_STREAMS
    return _LOG_STREAMS


def flush_log_streams() -> None:
    """Send partial lines still buffered in the log streams (end of a request)."""
    for stream in (sys.stdout, sys.stderr):
        # Not isinstance: LogStream's bases are ABCs, whose check costs a request fuel.
        if type(stream) is LogStream:
            stream.flush()
