"""`scripthost traffic`, `promote` and `abort`: canaries and device-class rules."""

from __future__ import annotations

from typing import Any

import click

from host.canary import AnalysisSettings
from host.cli._manage import admin_client, endpoint_argument, print_table
from host.cli._options import server_options
from host.client import AdminClient, Document


def _analysis_flag(name: str) -> str:
    return name.removesuffix("_s").replace("_", "-")


def _analysis_options(command: click.Command) -> click.Command:
    """One option per analysis setting, from its declaration (`AnalysisSettings`)."""
    schema = AnalysisSettings.model_json_schema()["properties"]
    for name, field in AnalysisSettings.model_fields.items():
        flag, kind = _analysis_flag(name), schema[name]
        if kind["type"] == "boolean":
            declared = f"--{flag}/--no-{flag}"
            click.option(declared, name, default=None, help=field.description)(command)
            continue
        bounds = kind.get("minimum"), kind.get("maximum")
        number = click.IntRange(*bounds) if kind["type"] == "integer" else click.FloatRange(*bounds)
        click.option(f"--{flag}", name, type=number, help=field.description)(command)
    return command


def _rule(value: str) -> dict[str, Any]:
    """`x-device-class=tv,stb:v3` -> a rule for the API."""
    condition, sep, version = value.rpartition(":")
    header, eq, values = condition.partition("=")
    if not sep or not eq or not header or not values or not version:
        raise click.BadParameter(f"expected HEADER=VALUE[,VALUE...]:VERSION, got {value!r}")
    return {"header": header, "values": values.split(","), "version": version}


@_analysis_options
@click.command()
@endpoint_argument
@server_options
@click.option("--candidate", metavar="VERSION", help="The version (or label) to canary.")
@click.option(
    "--percent", type=click.FloatRange(0, 100), help="Share of devices the candidate serves."
)
@click.option(
    "--rule",
    "rules",
    multiple=True,
    metavar="HEADER=VALUE[,VALUE...]:VERSION",
    help="A device-class rule (repeatable, first match wins); replaces the current rules.",
)
@click.option("--no-rules", is_flag=True, help="Drop every device-class rule.")
@click.option("--sticky-header", metavar="HEADER", help="Keeps a device on one version.")
def traffic(
    target: tuple[str, str],
    server: str,
    token: str | None,
    candidate: str | None,
    percent: float | None,
    rules: tuple[str, ...],
    no_rules: bool,
    sticky_header: str | None,
    **analysis: Any,
) -> None:
    """Show an endpoint's traffic (stable version, canary, rules, analysis), or change it.

    \b
    scripthost traffic tv/home --candidate v7 --percent 10
    scripthost traffic tv/home --rule x-device-class=tv:v7 --auto --window 600
    """
    changes: dict[str, Any] = {}
    if candidate is not None:
        changes["candidate"] = candidate
    if percent is not None:
        changes["percent"] = percent
    if rules or no_rules:
        changes["rules"] = [_rule(rule) for rule in rules]
    if sticky_header is not None:
        changes["sticky_header"] = sticky_header
    settings = {name: value for name, value in analysis.items() if value is not None}
    if settings:
        changes["analysis"] = settings
    namespace, path = target
    with admin_client(server, token) as client:
        found = client.patch_traffic(namespace, path, changes) if changes else None
        show_traffic(client, namespace, path, found)


@click.command()
@endpoint_argument
@server_options
def promote(target: tuple[str, str], server: str, token: str | None) -> None:
    """Make the running canary's candidate the stable version, for every device."""
    namespace, path = target
    with admin_client(server, token) as client:
        ended = client.end_canary(namespace, path, "promote")
    click.echo(f"{namespace}{ended['path']}: {ended['stable']} is stable")


@click.command()
@endpoint_argument
@server_options
def abort(target: tuple[str, str], server: str, token: str | None) -> None:
    """Stop the running canary: every device gets the stable version again."""
    namespace, path = target
    with admin_client(server, token) as client:
        ended = client.end_canary(namespace, path, "abort")
    click.echo(f"{namespace}{ended['path']}: canary stopped, {ended['stable']} serves everyone")


def show_traffic(
    client: AdminClient, namespace: str, path: str, found: Document | None = None
) -> None:
    current = found or client.traffic(namespace, path)
    click.echo(f"{namespace}{current['path']}")
    click.echo(f"  stable     {current['stable'] or '-'}")
    if current["candidate"]:
        click.echo(
            f"  candidate  {current['candidate']} for {current['percent']:g}% of devices"
            f" (sticky on {current['sticky_header']}), run {current['canary_id']}"
        )
    for number, rule in enumerate(current["rules"], start=1):
        values = "|".join(rule["values"])
        click.echo(f"  rule {number}     {rule['header']}: {values} -> {rule['version']}")
    click.echo(f"  analysis   {describe_analysis(current['analysis'])}")
    if current["candidate"]:
        show_comparison(client.canary(namespace, path))
    elif current["verdict"]:
        click.echo(f"  last verdict  {describe_verdict(current['verdict'])}")


def describe_analysis(settings: Document) -> str:
    return (
        f"{'auto' if settings['auto'] else 'manual'}, window {settings['window_s']} s,"
        f" at least {settings['min_requests']} requests,"
        f" failures +{settings['max_failure_increase'] * 100:g} points,"
        f" p99 x{settings['max_latency_ratio']:g}, fuel x{settings['max_fuel_ratio']:g},"
        f" memory x{settings['max_memory_ratio']:g}"
    )


def describe_verdict(verdict: Document) -> str:
    applied = " (applied)" if verdict.get("applied") else ""
    reasons = "; ".join(verdict.get("reasons") or [])
    return f"{verdict.get('verdict')}{applied}: {reasons}"


def show_comparison(canary: Document) -> None:
    analysis = canary.get("analysis")
    if not analysis:
        return
    stable, candidate = analysis["arms"]["stable"], analysis["arms"]["candidate"]
    click.echo(f"  across {canary['hosts']} host(s), {analysis['elapsed_s']:g} s:")
    rows = [
        (label, _cell(stable.get(key)), _cell(candidate.get(key)))
        for label, key in (
            ("requests", "requests"),
            ("failure rate", "failure_rate"),
            ("p99 ms", "p99_ms"),
            ("fuel p99", "fuel_p99"),
            ("memory p99", "memory_p99"),
        )
    ]
    rows.append(("failures", _classes(stable), _classes(candidate)))
    print_table(
        ("", f"stable {canary['stable']}", f"candidate {canary['candidate']}"),
        [("  " + row[0], row[1], row[2]) for row in rows],
    )
    click.echo(f"  verdict now  {describe_verdict(analysis)}")
    if canary.get("recorded"):
        click.echo(f"  recorded     {describe_verdict(canary['recorded'])}")


def _cell(value: object) -> str:
    return "-" if value is None else str(value)


def _classes(arm: Document) -> str:
    return ", ".join(f"{name} {count}" for name, count in arm["failures"].items()) or "-"
