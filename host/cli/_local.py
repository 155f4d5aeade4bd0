"""Commands that work on this machine alone: `build` and `invoke`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

import click

from host.backends import Catalogue
from host.build import BUNDLE_SUFFIX, LANGUAGES, BuildError, build_bundle, build_script
from host.cli._options import parse_pairs
from host.limits import Limits, MiB

DEFAULT_LIMITS = Limits()
DEFAULT_CACHE_DIR = Path(
    os.environ.get("SCRIPTHOST_CACHE_DIR", Path.home() / ".cache" / "scripthost")
)


@click.command()
@click.argument("script", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-o",
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file (default: SCRIPT with .bundle, or .wasm with --component).",
)
@click.option(
    "--component",
    "as_component",
    is_flag=True,
    help="Build a component of its own (engine included) instead of a bundle.",
)
def build(script: Path, out: Path | None, as_component: bool) -> None:
    """Build SCRIPT (.js, .mjs or .py) into a bundle for its language's shared runtime.

    A bundle is the script's files and the packages it imports, a few KB; the
    runtime it names is built once per SDK version and uploaded by `deploy`.
    """
    target = out or script.with_suffix(".wasm" if as_component else BUNDLE_SUFFIX)
    try:
        if as_component:
            build_script(script, target)
        else:
            build_bundle(script, target)
    except BuildError as error:
        raise click.ClickException(str(error)) from None
    click.echo(str(target))


@click.command(name="invoke")
@click.argument("module", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--request",
    "request_file",
    type=click.Path(exists=True, path_type=Path),
    help="JSON {method, path, query, headers, body}; default GET /.",
)
@click.option(
    "--backend",
    "backends",
    multiple=True,
    metavar="NAME=URL",
    help="A backend service the script may call.",
)
@click.option(
    "--config",
    "config",
    multiple=True,
    metavar="KEY=VALUE",
    help="Endpoint configuration the script reads.",
)
@click.option("--fuel", type=click.IntRange(min=1), default=DEFAULT_LIMITS.fuel, show_default=True)
@click.option(
    "--memory-mb",
    type=click.IntRange(min=1),
    default=DEFAULT_LIMITS.memory_bytes // MiB,
    show_default=True,
)
@click.option(
    "--timeout-ms", type=click.IntRange(min=1), default=DEFAULT_LIMITS.timeout_ms, show_default=True
)
def invoke_command(
    module: Path,
    request_file: Path | None,
    backends: tuple[str, ...],
    config: tuple[str, ...],
    fuel: int,
    memory_mb: int,
    timeout_ms: int,
) -> None:
    """Run one request through MODULE (a .wasm, a .bundle whose runtime was built here,
    or a .js/.mjs/.py script, bundled first) and print the outcome as JSON.

    Exits 0 when the script produced a response, 1 with the failure class on
    stderr otherwise.
    """
    # Imported here: wasmtime costs `build` and the other commands their start-up.
    from host.invoke import invoke, read_request_file, result_document
    from host.sandbox import (
        BundleRejected,
        InvalidBundle,
        InvalidModule,
        RuntimeRejected,
        SandboxEngine,
    )

    try:
        catalogue = Catalogue.from_pairs(backends)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--backend") from None
    limits = Limits(fuel=fuel, memory_bytes=memory_mb * MiB, timeout_ms=timeout_ms)
    engine = SandboxEngine(cache_dir=DEFAULT_CACHE_DIR / "wasmtime")
    try:
        result = asyncio.run(
            invoke(
                engine,
                _module_bytes(module),
                read_request_file(request_file),
                catalogue=catalogue,
                config=parse_pairs(config, "--config"),
                limits=limits,
            )
        )
    except (InvalidModule, InvalidBundle, RuntimeRejected, BundleRejected) as error:
        raise click.ClickException(str(error)) from None
    except json.JSONDecodeError as error:
        raise click.ClickException(f"--request is not valid JSON: {error}") from None
    finally:
        engine.close()
    click.echo(json.dumps(result_document(result), indent=2))
    if result.failure is not None:
        click.echo(f"{result.outcome}: {result.failure_message}", err=True)
        sys.exit(1)


def _module_bytes(path: Path) -> bytes:
    """A .wasm or .bundle as it is; a script bundled first (well under a second)."""
    if path.suffix not in LANGUAGES:
        return path.read_bytes()
    with tempfile.TemporaryDirectory(prefix="scripthost-invoke-") as scratch:
        try:
            bundle = build_bundle(path, Path(scratch) / f"{path.stem}{BUNDLE_SUFFIX}")
        except BuildError as error:
            raise click.ClickException(f"build failed: {error}") from None
        return bundle.read_bytes()
