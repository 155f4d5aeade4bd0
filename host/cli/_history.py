"""`scripthost log`, `diff`, `source` and `tag`: an endpoint's history, as with an SCM."""

from __future__ import annotations

import difflib
from pathlib import Path

import click

from host.build_inputs import relative_path
from host.cli._manage import admin_client, endpoint_argument
from host.cli._options import server_options
from host.cli._traffic import describe_verdict
from host.client import AdminClient, Document


@click.command()
@endpoint_argument
@server_options
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
def log(target: tuple[str, str], server: str, token: str | None, limit: int) -> None:
    """An endpoint's history, newest first: versions (author, message, commit, labels),
    activations, traffic changes, canary verdicts and how canaries ended."""
    namespace, path = target
    with admin_client(server, token) as client:
        versions = {v["id"]: v for v in client.versions(namespace, path)}
        events = client.log(namespace, path, limit)
    for event in events:
        click.echo(
            f"{event['seq']:>6}  {event['at'][:19]}  {event['actor']:<16}  {event['action']:<18}"
            f"  {describe_event(event['details'], event['action'], versions)}".rstrip()
        )


def describe_event(details: Document, action: str, versions: dict[str, Document]) -> str:
    if action == "version.added":
        return _describe_version(versions.get(details["version"]), details)
    if action == "version.activated":
        rollback = " (rollback)" if details.get("rollback") else ""
        return f"{details['version']} active, was {details.get('previous') or '-'}{rollback}"
    if action == "traffic.set":
        return _describe_policy(details["policy"])
    if action in {"canary.promoted", "canary.aborted", "canary.rolled_back"}:
        verdict = details.get("verdict")
        why = f": {describe_verdict(verdict)}" if verdict else ""
        return f"candidate {details['candidate']}, stable {details['stable']}{why}"
    if action == "canary.verdict":
        return describe_verdict(details["verdict"])
    if action.startswith("version.") and "label" in details:
        return f"{details['label']} -> {details.get('version') or '-'}"
    return ""


def _describe_version(version: Document | None, details: Document) -> str:
    text = f"{details['version']} {details.get('message') or ''}".rstrip()
    if version is None:
        return text
    build = version.get("build") or {}
    git = build.get("git")
    if git:
        text += f"  [{git['commit'][:12]}{' dirty' if git['dirty'] else ''}]"
    if build.get("files"):
        text += f"  {len(build['files'])} file(s)"
    if version.get("labels"):
        text += f"  ({', '.join(version['labels'])})"
    return text


def _describe_policy(policy: Document) -> str:
    parts = []
    if policy.get("candidate"):
        parts.append(f"candidate {policy['candidate']} at {policy['percent']:g}%")
    else:
        parts.append("no candidate")
    for rule in policy.get("rules") or []:
        parts.append(f"{rule['header']}: {'|'.join(rule['values'])} -> {rule['version']}")
    return "; ".join(parts)


@click.command()
@endpoint_argument
@click.argument("old")
@click.argument("new")
@server_options
def diff(target: tuple[str, str], old: str, new: str, server: str, token: str | None) -> None:
    """Every file that differs between two versions (or labels), as unified diffs."""
    namespace, path = target
    with admin_client(server, token) as client:
        before = client.files(namespace, path, old)
        after = client.files(namespace, path, new)
    names = sorted(set(before["files"]) | set(after["files"]))
    changed = False
    for name in names:
        lines = difflib.unified_diff(
            _lines(before["files"].get(name)),
            _lines(after["files"].get(name)),
            fromfile=f"{before['version']}/{name}" if name in before["files"] else "/dev/null",
            tofile=f"{after['version']}/{name}" if name in after["files"] else "/dev/null",
        )
        for line in lines:
            changed = True
            click.echo(line, nl=not line.endswith("\n"))
    if not changed:
        click.echo(f"{before['version']} and {after['version']} have the same files", err=True)


def _lines(text: str | None) -> list[str]:
    return [] if text is None else text.splitlines(keepends=True)


@click.command()
@endpoint_argument
@server_options
@click.option("--version", "version", metavar="VERSION", help="Default: the active version.")
@click.option(
    "-o",
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write every file under this folder (default: print them).",
)
@click.option("--force", is_flag=True, help="Overwrite files that exist under --out.")
def source(
    target: tuple[str, str],
    server: str,
    token: str | None,
    version: str | None,
    out: Path | None,
    force: bool,
) -> None:
    """The source files a version was built from."""
    namespace, path = target
    with admin_client(server, token) as client:
        found = client.files(namespace, path, version or _active(client, namespace, path))
    files: dict[str, str] = found["files"]
    if out is None:
        for name, text in files.items():
            if len(files) > 1:
                click.echo(f"==> {name} <==")
            click.echo(text, nl=not text.endswith("\n"))
        return
    targets = {name: _inside(out, name) for name in files}
    existing = [name for name, file in targets.items() if file.exists()]
    if existing and not force:
        raise click.ClickException(f"{', '.join(existing)} exist under {out}; use --force")
    for name, file in targets.items():
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(files[name])
    click.echo(f"{found['version']}: {len(files)} file(s) under {out}, entry {found['entry']}")


def _active(client: AdminClient, namespace: str, path: str) -> str:
    endpoint = client.endpoint(namespace, path)
    if endpoint is None or endpoint["active_version"] is None:
        raise click.ClickException(f"{namespace}/{path} has no active version; use --version")
    return str(endpoint["active_version"])


def _inside(folder: Path, name: str) -> Path:
    """Where a file goes: under `folder`, whatever name the server sent."""
    try:
        relative_path(name)
    except ValueError as error:
        raise click.ClickException(f"refusing to write {name!r}: {error}") from None
    return folder / name


@click.command()
@endpoint_argument
@click.argument("label")
@click.argument("version", required=False)
@server_options
@click.option("--delete", is_flag=True, help="Remove the label.")
def tag(
    target: tuple[str, str],
    label: str,
    version: str | None,
    server: str,
    token: str | None,
    delete: bool,
) -> None:
    """Label a version (usable wherever a version is named), move a label, or --delete it."""
    namespace, path = target
    if delete == (version is not None):
        raise click.UsageError("give a VERSION to label, or --delete")
    with admin_client(server, token) as client:
        labels = client.set_label(namespace, path, label, version)["labels"]
    for name, named in labels.items():
        click.echo(f"{name} -> {named}")
