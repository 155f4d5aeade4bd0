"""`scripthost services` and `scripthost service`: the backend catalogue, managed at runtime."""

from __future__ import annotations

import json
from typing import Any

import click

from host.cli._manage import admin_client, print_table
from host.cli._options import parse_pairs, server_options
from host.client import AdminClient, Document


@click.command()
@server_options
def services(server: str, token: str | None) -> None:
    """List the backend services: the registry's managed ones and the host's static ones."""
    with admin_client(server, token) as client:
        found = client.services()
    rows = [
        (
            s["name"],
            s["source"],
            s["spec"]["url"],
            ",".join(s["spec"]["allow"]),
            _cache_summary(s["spec"].get("cache")),
        )
        for s in found
    ]
    print_table(("SERVICE", "SOURCE", "URL", "ALLOW", "CACHE"), rows)


def _cache_summary(cache: dict[str, Any] | None) -> str:
    if cache is None:
        return "-"
    ttl = cache.get("ttl_s")
    return "cache-control" if ttl is None else f"{ttl:g} s"


@click.command()
@click.argument("name")
@server_options
@click.option("--url", help="Base URL; scripts call paths below it (required to create).")
@click.option("--timeout-ms", type=click.IntRange(1, 300_000))
@click.option("--retries", type=click.IntRange(0, 5), help="Retries of idempotent calls.")
@click.option("--max-response-bytes", type=click.IntRange(min=1))
@click.option(
    "--header",
    "headers",
    multiple=True,
    metavar="NAME=VALUE",
    help="A header the host injects (repeatable; replaces the service's headers).",
)
@click.option(
    "--allow",
    multiple=True,
    metavar="RULE",
    help="Who may call it: *, a namespace or NS/PATH (repeatable; replaces the list).",
)
@click.option("--cache-ttl", type=click.FloatRange(min=0), help="Seconds an answer stays fresh.")
@click.option(
    "--cache-from-headers",
    is_flag=True,
    help="Cache for as long as the service's own Cache-Control says (no fixed TTL).",
)
@click.option("--cache-max-bytes", type=click.IntRange(min=1024), help="This service's share.")
@click.option(
    "--cache-vary",
    multiple=True,
    metavar="HEADER",
    help="A request header whose values get entries of their own (repeatable).",
)
@click.option("--stale-while-revalidate", type=click.FloatRange(min=0), metavar="SECONDS")
@click.option("--stale-if-error", type=click.FloatRange(min=0), metavar="SECONDS")
@click.option("--no-cache", is_flag=True, help="Stop caching this service's answers.")
@click.option("--delete", is_flag=True, help="Delete the service.")
def service(
    name: str,
    server: str,
    token: str | None,
    url: str | None,
    timeout_ms: int | None,
    retries: int | None,
    max_response_bytes: int | None,
    headers: tuple[str, ...],
    allow: tuple[str, ...],
    cache_ttl: float | None,
    cache_from_headers: bool,
    cache_max_bytes: int | None,
    cache_vary: tuple[str, ...],
    stale_while_revalidate: float | None,
    stale_if_error: float | None,
    no_cache: bool,
    delete: bool,
) -> None:
    """Show, create, change or delete the managed service NAME (admins only).

    With no option it prints the service. Options change only what they name;
    a new service needs --url. Every host applies the change within one
    refresh interval, and it is recorded in the audit log.
    """
    fields: dict[str, Any] = {
        "url": url,
        "timeout_ms": timeout_ms,
        "retries": retries,
        "max_response_bytes": max_response_bytes,
        "headers": parse_pairs(headers, "--header") if headers else None,
        "allow": list(allow) or None,
    }
    changes = {key: value for key, value in fields.items() if value is not None}
    cache: dict[str, Any] = {
        "ttl_s": cache_ttl,
        "max_bytes": cache_max_bytes,
        "vary": list(cache_vary) or None,
        "stale_while_revalidate_s": stale_while_revalidate,
        "stale_if_error_s": stale_if_error,
    }
    cache_changes: dict[str, Any] = {k: v for k, v in cache.items() if v is not None}
    if cache_from_headers:
        cache_changes["ttl_s"] = None
    with admin_client(server, token) as client:
        if delete:
            client.delete_service(name)
            click.echo(f"service {name}: deleted", err=True)
            return
        current = client.service(name)
        if no_cache:
            changes["cache"] = None
        elif cache_changes or cache_from_headers:
            existing = (current or {}).get("spec", {}).get("cache") or {}
            changes["cache"] = {**existing, **cache_changes}
        result = _apply(client, name, current, changes)
    click.echo(json.dumps(result, indent=2))


def _apply(
    client: AdminClient, name: str, current: Document | None, changes: dict[str, Any]
) -> Document:
    if not changes:
        if current is None:
            raise click.ClickException(f"no service {name!r}")
        return current
    if current is None:
        if "url" not in changes:
            raise click.UsageError("a new service needs --url")
        return client.put_service(name, changes)
    return client.patch_service(name, changes)
