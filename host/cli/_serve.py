"""`scripthost serve`: the host on Hypercorn."""

from __future__ import annotations

import os
from pathlib import Path

import click

from host.backends import Catalogue
from host.limits import MiB
from host.logs import LogFormat
from host.settings import Settings

_DEFAULTS = Settings()


@click.command()
@click.option(
    "--registry",
    "registry_url",
    metavar="URL",
    help="sqlite:///FILE or cassandra://HOST[:PORT][,HOST...]/KEYSPACE; "
    "default: SQLite in the data dir.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=_DEFAULTS.data_dir,
    show_default=True,
)
@click.option("--host", default=_DEFAULTS.host, show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=_DEFAULTS.port, show_default=True)
@click.option(
    "--tokens",
    "tokens_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file of API tokens; SCRIPTHOST_ADMIN_TOKEN adds a bootstrap admin.",
)
@click.option(
    "--backend",
    "backends",
    multiple=True,
    metavar="NAME=URL",
    help="A named backend service scripts may call (repeatable); read-only on this host.",
)
@click.option(
    "--catalogue",
    "catalogue_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON catalogue of backend services (URL, timeout, retries, headers, allow-list, "
    "cache); read-only on this host, beside the registry's managed services.",
)
@click.option(
    "--max-queue",
    type=click.IntRange(min=0),
    default=_DEFAULTS.max_queue,
    show_default=True,
    help="Requests waiting for a sandbox worker before new ones are shed with 503.",
)
@click.option(
    "--queue-budget-ms",
    type=click.FloatRange(min=0),
    help="Shed an endpoint's requests while its oldest queued one has waited this long "
    "(default: half the endpoint's timeout).",
)
@click.option(
    "--refusal-hold-ms",
    type=click.IntRange(min=0),
    default=int(_DEFAULTS.refusal_hold_s * 1000),
    show_default=True,
    help="Hold a refusal of an endpoint that will not run for a while (breaker open, "
    "switched off) this long at most before sending it, so clients retrying at once "
    "cannot make the host refuse in a tight loop; 0 sends refusals at once.",
)
@click.option(
    "--max-held-refusals",
    type=click.IntRange(min=0),
    default=_DEFAULTS.max_held_refusals,
    show_default=True,
    help="Refusals held at once per process (each keeps its connection open); "
    "beyond this they are sent at once.",
)
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="the machine's cores",
    help="Host processes on the one listening socket, each a full host on its own core; "
    "one that dies is replaced at once.",
)
@click.option(
    "--pin-cores/--no-pin-cores",
    default=True,
    show_default=True,
    help="With several processes, keep each on one core (fewer TLB shootdowns per request); "
    "--no-pin-cores lets the scheduler move them.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=_DEFAULTS.workers,
    show_default=True,
    help="CPU slots: how many scripts run at once (a script waiting on a backend holds none).",
)
@click.option(
    "--max-instances",
    type=click.IntRange(min=1),
    default=_DEFAULTS.max_instances,
    show_default=True,
    help="Scripts alive at once, running or waiting on a backend; each holds its "
    "instance's memory.",
)
@click.option(
    "--refresh-interval",
    "refresh_interval_s",
    type=click.FloatRange(min=0.05, max=1.0),
    default=_DEFAULTS.refresh_interval_s,
    show_default=True,
    help="Seconds between polls of the registry's change feed.",
)
@click.option(
    "--canary-interval",
    "canary_interval_s",
    type=click.FloatRange(min=0.1, max=60.0),
    default=_DEFAULTS.canary_interval_s,
    show_default=True,
    help="Seconds between publishing this host's canary counts (and judging the canaries "
    "whose analysis lease it holds).",
)
@click.option(
    "--cache-mb",
    type=click.IntRange(min=1),
    default=_DEFAULTS.cache_bytes // MiB,
    show_default=True,
    help="MiB of compiled modules kept in memory (least recently used out).",
)
@click.option(
    "--response-cache-mb",
    type=click.IntRange(min=0),
    default=_DEFAULTS.response_cache_bytes // MiB,
    show_default=True,
    help="Memory for the shared cache of backend answers (services with `cache` in the "
    "catalogue); 0 turns it off.",
)
@click.option(
    "--max-upload-mb",
    type=click.IntRange(min=1),
    default=_DEFAULTS.max_upload_bytes // MiB,
    show_default=True,
)
@click.option(
    "--compile-cache",
    type=click.Path(file_okay=False, path_type=Path),
    help="wasmtime's on-disk compilation cache (default: in the data dir).",
)
@click.option(
    "--artifacts-in-memory",
    is_flag=True,
    help="Read compiled modules into each process's memory instead of mapping their files: "
    "for kernels that sample page accesses for proactive reclaim (DAMON), where runs stood "
    "still for seconds. Costs a copy per process and 5-25% more CPU per fresh instance.",
)
@click.option(
    "--log-format",
    type=click.Choice([f.value for f in LogFormat]),
    default=_DEFAULTS.log_format.value,
    show_default=True,
)
def serve(
    registry_url: str | None,
    data_dir: Path,
    host: str,
    port: int,
    tokens_file: Path | None,
    backends: tuple[str, ...],
    catalogue_file: Path | None,
    max_queue: int,
    queue_budget_ms: float | None,
    refusal_hold_ms: int,
    max_held_refusals: int,
    processes: int,
    pin_cores: bool,
    workers: int,
    max_instances: int,
    refresh_interval_s: float,
    canary_interval_s: float,
    response_cache_mb: int,
    cache_mb: int,
    max_upload_mb: int,
    compile_cache: Path | None,
    artifacts_in_memory: bool,
    log_format: str,
) -> None:
    """Serve the endpoints in the registry, and the management API."""
    # Imported here: the web stack and pydantic cost every other command a second.
    from host.catalogue_file import CatalogueFileError, load_catalogue
    from host.serve import run

    try:
        catalogue = Catalogue.from_pairs(backends)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--backend") from None
    if catalogue_file is not None:
        try:
            catalogue = Catalogue([*load_catalogue(catalogue_file), *catalogue])
        except CatalogueFileError as error:
            raise click.BadParameter(str(error), param_hint="--catalogue") from None
    status = run(
        Settings(
            data_dir=data_dir,
            registry_url=registry_url,
            host=host,
            port=port,
            tokens_file=tokens_file,
            catalogue=catalogue,
            workers=workers,
            max_instances=max_instances,
            max_queue=max_queue,
            queue_latency_budget_ms=queue_budget_ms,
            refusal_hold_s=refusal_hold_ms / 1000,
            max_held_refusals=max_held_refusals,
            refresh_interval_s=refresh_interval_s,
            canary_interval_s=canary_interval_s,
            response_cache_bytes=response_cache_mb * MiB,
            cache_bytes=cache_mb * MiB,
            max_upload_bytes=max_upload_mb * MiB,
            compile_cache_dir=compile_cache,
            artifacts_in_memory=artifacts_in_memory,
            log_format=LogFormat(log_format),
        ),
        processes,
        pin_cores=pin_cores,
    )
    if status != 0:
        raise SystemExit(status)
