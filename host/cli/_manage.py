"""Commands that talk to a running host's management API."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from host.build import (
    BUNDLE_SUFFIX,
    LANGUAGES,
    BuildError,
    build_bundle,
    build_cached,
    bundle_runtime_sha256,
    find_runtime,
    source_listing,
)
from host.build_inputs import BuildInputs, collect
from host.cli._options import parse_pairs, server_options
from host.client import AdminClient, Document, ServerError, split_endpoint

_DEFAULT_METHODS = ("GET",)


@contextmanager
def admin_client(server: str, token: str | None) -> Iterator[AdminClient]:
    """A client whose failures end the command with one readable line, never a traceback."""
    try:
        with AdminClient(server, token) as client:
            yield client
    except ServerError as error:
        raise click.ClickException(str(error)) from None


def endpoint_argument(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.argument("target", metavar="NS/PATH", callback=split_target)(command)


def split_target(
    _: click.Context, __: click.Parameter, value: str | None
) -> tuple[str, str] | None:
    """A click callback: NS/PATH as (namespace, path)."""
    if value is None:
        return None
    try:
        return split_endpoint(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


@click.command()
@click.argument("artifact", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--endpoint", "target", required=True, metavar="NS/PATH", callback=split_target)
@server_options
@click.option("--message", "-m", default="", help="Why this version exists.")
@click.option("--config", multiple=True, metavar="KEY=VALUE", help="Endpoint configuration.")
@click.option(
    "--method",
    "methods",
    multiple=True,
    metavar="METHOD",
    help="Allowed HTTP method (repeatable); default GET for a new endpoint.",
)
@click.option("--no-activate", is_flag=True, help="Upload only; activate later.")
@click.option(
    "--canary",
    type=click.FloatRange(0, 100),
    metavar="PCT",
    help="Make the new version the canary for PCT percent of devices instead of activating it.",
)
@click.option(
    "--if-changed",
    is_flag=True,
    help="Skip the upload when the active version already runs this exact module.",
)
@click.option(
    "--component",
    "as_component",
    is_flag=True,
    help="Build SCRIPT into a component of its own instead of a bundle for the shared runtime.",
)
def deploy(
    artifact: Path,
    target: tuple[str, str],
    server: str,
    token: str | None,
    message: str,
    config: tuple[str, ...],
    methods: tuple[str, ...],
    no_activate: bool,
    canary: float | None,
    if_changed: bool,
    as_component: bool,
) -> None:
    """Upload ARTIFACT (a script to build, a .bundle or a .wasm module) as a new version.

    A script is bundled for its language's shared runtime (or, with
    --component, built into a component); the runtime is uploaded first if
    the registry lacks it. Creates the endpoint if it does not exist. Prints
    the new version id. A script's version records every file it was built
    from, the SDK and runtime versions, and the git commit of its work tree.
    """
    namespace, path = target
    upload = upload_of(artifact, as_component)
    with admin_client(server, token) as client:
        version, state = deploy_upload(
            client,
            namespace,
            path,
            upload,
            config=parse_pairs(config, "--config"),
            methods=methods,
            message=message,
            activate=not no_activate,
            canary=canary,
            if_changed=if_changed,
        )
    click.echo(f"{namespace}/{path}: {version} ({state})", err=True)
    click.echo(version)


UNCHANGED = "already runs this module"


def deploy_upload(
    client: AdminClient,
    namespace: str,
    path: str,
    upload: Upload,
    *,
    config: dict[str, str],
    methods: tuple[str, ...] = (),
    message: str,
    activate: bool = True,
    canary: float | None = None,
    if_changed: bool = False,
) -> tuple[str, str]:
    """Upload as a new version (creating the endpoint if need be): (its id, its state).

    With `if_changed`, a module the active version runs already is not
    uploaded again: (that version, UNCHANGED).
    """
    ensure_endpoint(client, namespace, path, methods, config)
    unchanged = (
        _active_version_running(client, namespace, path, upload.module) if if_changed else None
    )
    if unchanged is not None:
        return unchanged, UNCHANGED
    if upload.runtime_sha256 is not None:
        ensure_runtime(client, upload.runtime_sha256)
    version = client.upload(
        namespace,
        path,
        upload.module,
        source=upload.source,
        language=upload.language,
        message=message,
        activate=activate and canary is None,
        build=None if upload.inputs is None else upload.inputs.model_dump(),
        canary=canary,
    )
    if canary is not None:
        return version["version"], f"canary for {canary:g}% of devices"
    return version["version"], "active" if version["active"] else "not active"


def _active_version_running(
    client: AdminClient, namespace: str, path: str, module: bytes
) -> str | None:
    module_hash = hashlib.sha256(module).hexdigest()
    active = next((v for v in client.versions(namespace, path) if v["active"]), None)
    return str(active["id"]) if active and active["module_hash"] == module_hash else None


@dataclass(frozen=True)
class Upload:
    module: bytes
    source: str | None
    language: str | None
    # The runtime a bundle names; None for a module that runs by itself.
    runtime_sha256: str | None = None
    # What a script was built from (None for an uploaded .wasm or .bundle).
    inputs: BuildInputs | None = None


def upload_of(artifact: Path, as_component: bool) -> Upload:
    language = LANGUAGES.get(artifact.suffix)
    if artifact.suffix == BUNDLE_SUFFIX:
        bundle = artifact.read_bytes()
        return Upload(bundle, None, None, _runtime_named_by(bundle))
    if language is None:
        return Upload(artifact.read_bytes(), None, None)
    click.echo(f"building {artifact} ...", err=True)
    try:
        inputs = collect(artifact)
        if as_component:
            component = build_cached(artifact).read_bytes()
            return Upload(component, artifact.read_text(), language, inputs=inputs)
        with tempfile.TemporaryDirectory(prefix="scripthost-deploy-") as scratch:
            built = build_bundle(artifact, Path(scratch) / f"{artifact.stem}{BUNDLE_SUFFIX}")
            data = built.read_bytes()
    except (BuildError, ValueError) as error:
        raise click.ClickException(f"build failed: {error}") from None
    listing = source_listing(artifact, data)
    return Upload(data, listing, language, _runtime_named_by(data), inputs)


def _runtime_named_by(bundle: bytes) -> str:
    try:
        return bundle_runtime_sha256(bundle)
    except (ValueError, KeyError, TypeError):
        raise click.ClickException("not a scripthost bundle: its header names no runtime") from None


def ensure_runtime(client: AdminClient, sha256: str) -> None:
    """Upload the runtime a bundle names unless the registry already holds it."""
    if client.has_runtime(sha256):
        return
    runtime = find_runtime(sha256)
    if runtime is None:
        raise click.ClickException(
            f"the registry lacks the bundle's runtime ({sha256[:12]}...) and it was not built "
            "here: deploy the script itself, or a bundle built on this machine"
        )
    click.echo(f"uploading the runtime {runtime.name} (once per SDK version) ...", err=True)
    client.upload_runtime(runtime.read_bytes())


def ensure_endpoint(
    client: AdminClient,
    namespace: str,
    path: str,
    methods: tuple[str, ...],
    config: dict[str, str],
) -> None:
    existing = client.endpoint(namespace, path)
    if existing is not None and not methods and not config:
        return
    wanted_methods = list(methods or (existing["methods"] if existing else _DEFAULT_METHODS))
    wanted_config = {**(existing["config"] if existing else {}), **config}
    client.put_endpoint(namespace, path, wanted_methods, wanted_config)


@click.command()
@server_options
def endpoints(server: str, token: str | None) -> None:
    """List the endpoints this token may see."""
    with admin_client(server, token) as client:
        found = client.endpoints()
    rows = [
        (
            f"{e['namespace']}{e['path']}",
            ",".join(e["methods"]),
            e["active_version"] or "-",
            "enabled" if e["enabled"] else "DISABLED",
        )
        for e in found
    ]
    print_table(("ENDPOINT", "METHODS", "ACTIVE", "STATE"), rows)


@click.command()
@endpoint_argument
@server_options
def versions(target: tuple[str, str], server: str, token: str | None) -> None:
    """List an endpoint's versions, newest first; * marks the active one."""
    with admin_client(server, token) as client:
        found = client.versions(*target)
    rows = [
        (
            ("* " if v["active"] else "  ") + v["id"],
            v["language"],
            v["author"],
            v["created_at"][:19],
            v["message"],
        )
        for v in found
    ]
    print_table(("VERSION", "LANGUAGE", "AUTHOR", "CREATED", "MESSAGE"), rows)


@click.command()
@endpoint_argument
@server_options
@click.option("--to", "to_version", metavar="VERSION", help="Default: the one before the active.")
def rollback(
    target: tuple[str, str], server: str, token: str | None, to_version: str | None
) -> None:
    """Make an earlier version active again."""
    namespace, path = target
    with admin_client(server, token) as client:
        found = client.versions(namespace, path)
        chosen = to_version or _previous_version(found)
        endpoint = client.activate(namespace, path, chosen)
    click.echo(f"{namespace}{endpoint['path']}: {endpoint['active_version']} is active")


def _previous_version(found: list[Document]) -> str:
    """The version created just before the active one (the list is newest first)."""
    ids = [v["id"] for v in found]
    active = next((i for i, v in enumerate(found) if v["active"]), None)
    if active is None or active + 1 >= len(ids):
        raise click.ClickException("there is no earlier version to roll back to; use --to")
    return str(ids[active + 1])


@click.command(name="delete")
@endpoint_argument
@server_options
def remove(target: tuple[str, str], server: str, token: str | None) -> None:
    """Delete an endpoint: devices get 404 at once. Its versions are kept."""
    with admin_client(server, token) as client:
        client.delete(*target)
    click.echo(f"{target[0]}/{target[1]}: deleted")


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=False)]
    for row in (header, *rows):
        click.echo(
            "  ".join(
                str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)
            ).rstrip()
        )
