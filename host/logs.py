"""Structured logs: human-readable in development, JSON lines in production."""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import MutableMapping
from enum import StrEnum
from typing import Any

import structlog

# C0 and C1 control characters and DEL: in a terminal they move the cursor,
# clear the screen or retitle the window, and many log fields (paths, a
# request's headers) come from whoever sent the request.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# A traceback keeps its line breaks and indentation.
_CONTROL_BUT_LAYOUT = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class LogFormat(StrEnum):
    CONSOLE = "console"
    JSON = "json"


def configure_logging(log_format: LogFormat = LogFormat.CONSOLE, level: str = "info") -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if log_format is LogFormat.JSON
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            _add_pid,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            escape_control_characters,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def _add_pid(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """Which process wrote the line: `serve --processes N` runs several on one log."""
    event["pid"] = os.getpid()
    return event


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger


def escape_control_characters(
    _: Any, __: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Write control characters in field names and string values as escapes (`\\x1b`).

    JSON lines escape them anyway; the console renderer would print them raw.
    """
    return {
        _escape(key, _CONTROL): (
            _escape(value, _CONTROL_BUT_LAYOUT if key == "exception" else _CONTROL)
            if isinstance(value, str)
            else value
        )
        for key, value in event.items()
    }


def _escape(text: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda match: f"\\x{ord(match.group()):02x}", text)
