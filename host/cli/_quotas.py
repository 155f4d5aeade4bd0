"""`scripthost quota`, `disable` and `enable`: the API team's knobs."""

from __future__ import annotations

from typing import SupportsIndex, SupportsInt

import click

from host.cli._manage import admin_client, print_table
from host.cli._options import server_options
from host.client import split_scope
from host.quota_spec import QuotaSpec
from host.quotas import QUOTAS

# Click option name (the flag's) -> the quota it sets.
_OPTIONS: dict[str, QuotaSpec] = {spec.flag.replace("-", "_"): spec for spec in QUOTAS.values()}


def _scope(
    _: click.Context, __: click.Parameter, value: str | None
) -> tuple[str | None, str | None]:
    if value is None:
        return None, None
    try:
        return split_scope(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


class _QuotaValue(click.types.IntParamType):
    """A flag's value in its unit, checked against its quota's own range."""

    def __init__(self, spec: QuotaSpec) -> None:
        self.spec = spec

    def convert(
        self,
        value: SupportsInt | SupportsIndex,
        param: click.Parameter | None,
        ctx: click.Context | None,
    ) -> int:
        number = super().convert(value, param, ctx)
        try:
            self.spec.check(number * self.spec.unit)
        except ValueError as error:
            self.fail(str(error), param, ctx)
        return number


def _quota_options(command: click.Command) -> click.Command:
    for option, spec in _OPTIONS.items():
        click.option(f"--{spec.flag}", option, type=_QuotaValue(spec), help=spec.description)(
            command
        )
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
        _OPTIONS[option].name: value * _OPTIONS[option].unit
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
        for name in QUOTAS
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
