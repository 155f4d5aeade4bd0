"""Structured logging into the request's log.

`log.info("home rendered", user="42", rows=2)` writes one line with two fields; the
host adds the request id, endpoint and version. Field values that are not strings are
written as JSON (`2`, `true`, `["a"]`). Everything logged, printed or written to stderr
counts against the request's log-volume limit.
"""

from __future__ import annotations

import json

from scripthost_sdk import _abi
from scripthost_sdk._abi import LogLevel


def field_text(value: object) -> str:
    """How a field value is written: strings as they are, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def write(level: LogLevel, message: str, /, **fields: object) -> None:
    """One log line at `level` with `fields`."""
    pairs = [(name, field_text(value)) for name, value in fields.items()]
    _abi.current().log_write(level, message, pairs)


def debug(message: str, /, **fields: object) -> None:
    """One log line at level debug."""
    write("debug", message, **fields)


def info(message: str, /, **fields: object) -> None:
    """One log line at level info."""
    write("info", message, **fields)


def warn(message: str, /, **fields: object) -> None:
    """One log line at level warn."""
    write("warn", message, **fields)


def error(message: str, /, **fields: object) -> None:
    """One log line at level error."""
    write("error", message, **fields)
