"""Commands of the script author's loop: `init`, `test` and `dev`."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, cast

import click

from host.backends import Catalogue
from host.build import runtime_component
from host.cli._local import DEFAULT_CACHE_DIR
from host.cli._manage import (
    admin_client,
    deploy_upload,
    ensure_runtime,
    split_target,
    upload_of,
)
from host.cli._options import parse_pairs, server_options
from host.client import AdminClient, ServerError
from host.dev import Deploy, DevHost, run_dev
from host.script_tests import Target, TestFiles, find_tests, run_tests
from host.templates import Language, TemplateError, create_project

if TYPE_CHECKING:
    from host.repl import ReplSession, Runner


@click.command()
@click.argument("name")
@click.option("--lang", type=click.Choice(["js", "python"]), required=True)
@click.option(
    "--dir",
    "parent",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where the project directory NAME is created.",
)
def init(name: str, lang: str, parent: Path) -> None:
    """Create NAME/: a script, its tests and a README of the loop."""
    try:
        written = create_project(name, cast(Language, lang), parent)
    except TemplateError as error:
        raise click.ClickException(str(error)) from None
    for path in written:
        click.echo(str(path))


@click.command(name="test")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--junit-xml",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write one JUnit report for both languages' tests.",
)
@click.option(
    "--sandbox",
    is_flag=True,
    help="Run each test's requests through the built script in the real sandbox "
    "(the FakeHost answers its backend calls over the ABI).",
)
@click.option(
    "--live",
    metavar="URL",
    help="Send each test's requests to the endpoint deployed at URL (its real backends).",
)
def test_command(
    paths: tuple[Path, ...], junit_xml: Path | None, sandbox: bool, live: str | None
) -> None:
    """Run the script tests in PATHS (default: this directory), JS and Python."""
    if sandbox and live:
        raise click.UsageError("--sandbox and --live are exclusive")
    tests = find_tests(paths or (Path("."),))
    if not tests.js and not tests.python:
        raise click.ClickException("no tests found (*.test.js, *.test.mjs, test_*.py, *_test.py)")
    try:
        if sandbox:
            status = _run_in_sandbox(tests, junit_xml)
        else:
            status = run_tests(tests, junit_xml, None if live is None else Target("live", live))
    except FileNotFoundError as error:
        raise click.ClickException(str(error)) from None
    sys.exit(status)


def _run_in_sandbox(tests: TestFiles, junit_xml: Path | None) -> int:
    # Imported here: wasmtime costs the other commands their start-up.
    from host.sandbox import Limits, SandboxEngine
    from host.script_runner import ScriptRunner, serving

    engine = SandboxEngine(cache_dir=DEFAULT_CACHE_DIR / "wasmtime")
    try:
        with serving(ScriptRunner(engine, Limits())) as url:
            return run_tests(tests, junit_xml, Target("sandbox", url))
    finally:
        engine.close()


@click.command()
@click.argument("script", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--endpoint",
    "target",
    required=True,
    metavar="NS/PATH",
    callback=split_target,
    help="Where the script is served.",
)
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--backend", "backends", multiple=True, metavar="NAME=URL")
@click.option(
    "--catalogue", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None
)
@click.option("--config", "config", multiple=True, metavar="KEY=VALUE")
def dev(
    script: Path,
    target: tuple[str, str],
    port: int,
    backends: tuple[str, ...],
    catalogue: Path | None,
    config: tuple[str, ...],
) -> None:
    """Serve SCRIPT on a local host and redeploy it whenever a file next to it changes."""
    # The machine's compile cache (as `invoke` and `repl` use): a new dev host
    # compiles the runtime once per machine, not once per session.
    serve_args = [f"--compile-cache={DEFAULT_CACHE_DIR / 'wasmtime'}"]
    serve_args += [f"--backend={pair}" for pair in backends]
    if catalogue is not None:
        serve_args.append(f"--catalogue={catalogue}")
    deploy = _dev_deploy(script, target, parse_pairs(config, "--config"))
    try:
        run_dev(script, "/".join(target), port, serve_args, deploy, click.echo)
    except KeyboardInterrupt:
        click.echo("stopped")


def _dev_deploy(script: Path, target: tuple[str, str], config: dict[str, str]) -> Deploy:
    namespace, path = target

    def deploy(host: DevHost) -> tuple[bool, str]:
        try:
            upload = upload_of(script, as_component=False)
            with AdminClient(host.url, host.token) as client:
                version, state = deploy_upload(
                    client, namespace, path, upload, config=config, message="scripthost dev",
                    if_changed=True,
                )  # fmt: skip
        except click.ClickException as error:
            return False, error.message
        except ServerError as error:
            return False, str(error)
        return True, f"{namespace}/{path}: {version} ({state})"

    return deploy


@click.command()
@click.option("--lang", type=click.Choice(["js", "python"]), required=True)
@click.option("--backend", "backends", multiple=True, metavar="NAME=URL")
@click.option("--config", "config", multiple=True, metavar="KEY=VALUE")
@click.option(
    "--endpoint",
    "target",
    metavar="NS/PATH",
    callback=split_target,
    help="Run each line on the host (--server) as this endpoint would: its "
    "backends, config and limits. Nothing is deployed.",
)
@server_options
def repl(
    lang: str,
    backends: tuple[str, ...],
    config: tuple[str, ...],
    target: tuple[str, str] | None,
    server: str,
    token: str | None,
) -> None:
    """Evaluate JavaScript or Python line by line in the real sandbox.

    `backend`, `config` and `log` are live: against the backends given here,
    or, with --endpoint, on a running host as that endpoint; each line shows
    its value (or failure), its fuel and its time.
    """
    # Imported here: wasmtime costs the other commands their start-up.
    from host.repl import LocalRunner, ReplSession
    from host.sandbox import Limits, SandboxEngine

    language = cast(Language, lang)
    if target is not None:
        if backends or config:
            raise click.UsageError("--endpoint runs with the endpoint's backends and config")
        with admin_client(server, token) as client:
            _repl_loop(ReplSession(language, _on_host(client, language, target)))
        return
    try:
        catalogue = Catalogue.from_pairs(backends)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--backend") from None
    engine = SandboxEngine(cache_dir=DEFAULT_CACHE_DIR / "wasmtime")
    runner: Runner = LocalRunner(engine, catalogue, parse_pairs(config, "--config"), Limits())
    try:
        _repl_loop(ReplSession(language, runner))
    finally:
        engine.close()


def _on_host(client: AdminClient, language: Language, target: tuple[str, str]) -> Runner:
    namespace, path = target
    runtime = runtime_component(language)
    ensure_runtime(client, hashlib.sha256(runtime.read_bytes()).hexdigest())
    return lambda bundle: client.scratch(namespace, path, bundle, {"path": "/repl"})


def _repl_loop(session: ReplSession) -> None:
    prompt = "js> " if session.language == "js" else ">>> "
    while True:
        try:
            line = input(prompt)
        except EOFError:
            break
        if line.strip():
            click.echo(session.evaluate(line).describe())
