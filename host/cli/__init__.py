"""The `scripthost` command."""

from __future__ import annotations

import click

from host.cli._author import dev, init, repl, test_command
from host.cli._history import diff, log, source, tag
from host.cli._local import build, invoke_command
from host.cli._manage import deploy, endpoints, remove, rollback, versions
from host.cli._quotas import disable, enable, quota
from host.cli._serve import serve
from host.cli._services import service, services
from host.cli._traffic import abort, promote, traffic


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="scripthost")
def main() -> None:
    """scripthost: WebAssembly-sandboxed scripts as HTTP endpoints."""


for command in (
    init,
    test_command,
    dev,
    repl,
    build,
    invoke_command,
    serve,
    deploy,
    endpoints,
    versions,
    rollback,
    remove,
    quota,
    disable,
    enable,
    services,
    service,
    traffic,
    promote,
    abort,
    log,
    diff,
    source,
    tag,
):
    main.add_command(command)

__all__ = ["main"]
