"""Option parsing shared by the commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def parse_pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for value in values:
        key, sep, item = value.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {value!r}", param_hint=what)
        pairs[key] = item
    return pairs


def server_options(command: F) -> F:
    """--server and --token, which also come from SCRIPTHOST_URL and SCRIPTHOST_TOKEN."""
    command = click.option(
        "--token",
        envvar="SCRIPTHOST_TOKEN",
        help="Bearer token (env SCRIPTHOST_TOKEN).",
    )(command)
    command = click.option(
        "--server",
        envvar="SCRIPTHOST_URL",
        default="http://127.0.0.1:8080",
        show_default=True,
        help="The host's base URL (env SCRIPTHOST_URL).",
    )(command)
    return command
