"""`scripthost quota`, `disable` and `enable`: the API team's knobs."""

from __future__ import annotations

import click

from host.cli._manage import admin_client, print_table
from host.cli._options import server_options
from host.client import split_scope
from host.limits import MiB
from host.quotas import QUOTA_NAMES

# CLI option -> (quota name, multiplier from the option's unit to the quota's).
_OPTIONS: dict[str, tuple[str, int]] = {
    "fuel": ("fuel", 1),
    "memory_mb": ("memory_bytes", MiB),
    "timeout_ms": ("timeout_ms", 1),
    "response_kb": ("response_bytes", 1024),
    "log_kb": ("log_bytes", 1024),
    "backend_calls": ("backend_calls", 1),
    "backend_concurrency": ("backend_concurrency", 1),
    "concurrency": ("max_concurrency", 1),
    "rps": ("rps", 1),
    "burst": ("burst", 1),
    "reuse": ("reuse", 1),
    "module_mb": ("max_module_bytes", MiB),
    "bundle_kb": ("max_bundle_bytes", 1024),
    "endpoints": ("max_endpoints", 1),
}


def _scope(
    _: click.Context, __: click.Parameter, value: str | None
) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    try:
        return split_scope(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _quota_options(command: click.Command) -> click.Command:
    for option, (quota, _) in _OPTIONS.items():
        flag = "--" + option.replace("_", "-")
        click.option(flag, option, type=click.IntRange(min=0), help=QUOTA_NAMES[quota][0])(command)
    return command


@_quota_options
@click.command()
@click.argument("scope", metavar="[NS[/PATH]]", required=False, callback=_scope)
@server_options
@click.option("--clear", "clear", multiple=True, metavar="QUOTA", help="Drop this override.")
def quota(
    scope: tuple[str | None, str | None],
    server: str,
    token: str | None,
    clear: tuple[str, ...],
    **values: int | None,
) -> None:
    """Show or change quotas: fleet defaults (no scope), a namespace, or an endpoint.

    Changes merge into the scope's overrides and take effect on every host
    within one refresh interval; only admins may change quotas.
    """
    namespace, path = scope
    changes = {
        _OPTIONS[option][0]: value * _OPTIONS[option][1]
        for option, value in values.items()
        if value is not None
    }
    with admin_client(server, token) as client:
        current = client.quotas(namespace, path)
        if changes or clear:
            overrides = {k: v for k, v in current["overrides"].items() if k not in clear}
            current = client.set_quotas(namespace, path, {**overrides, **changes})
    rows = [
        (
            name,
            str(current["effective"].get(name, "")),
            "override" if name in current["overrides"] else "",
        )
        for name in QUOTA_NAMES
    ]
    click.echo(f"quotas of {current['scope']}")
    print_table(("QUOTA", "VALUE", ""), rows)


def _switch(enabled: bool) -> click.Command:
    verb = "enable" if enabled else "disable"

    @click.command(name=verb)
    @click.argument("scope", metavar="NS[/PATH]", callback=_scope)
    @server_options
    def command(scope: tuple[str, str | None], server: str, token: str | None) -> None:
        namespace, path = scope
        with admin_client(server, token) as client:
            client.set_enabled(namespace, path, enabled)
        click.echo(f"{namespace}/{path or '*'}: {verb}d")

    command.help = f"{verb.capitalize()} an endpoint or a whole namespace" + (
        " (devices get 503 with Retry-After)." if not enabled else "."
    )
    return command


disable = _switch(False)
enable = _switch(True)
