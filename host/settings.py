"""One typed Settings object for a serving host, from CLI flags and the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from host.backends import Catalogue
from host.limits import MiB
from host.logs import LogFormat
from host.protect import BreakerPolicy
from host.quotas import EndpointQuotas


@dataclass(frozen=True, slots=True)
class Settings:
    data_dir: Path = Path(".data")
    # None: SQLite in the data dir (the embedded default).
    registry_url: str | None = None
    host: str = "127.0.0.1"
    port: int = 8080
    tokens_file: Path | None = None
    admin_token: str | None = field(
        default_factory=lambda: os.environ.get("SCRIPTHOST_ADMIN_TOKEN") or None
    )
    # The host's read-only services (`--backend`, `--catalogue`); the registry
    # holds the managed ones (host.services).
    catalogue: Catalogue = field(default_factory=Catalogue)
    # Memory for the shared cache of backend answers; 0 turns it off.
    response_cache_bytes: int = 64 * MiB
    # CPU slots: scripts running at once (wasm runs in parallel across them).
    workers: int = 4
    # Scripts alive at once, running or waiting on a backend (each holds its
    # instance's memory while it waits).
    max_instances: int = 64
    # How often the route table polls the registry's change feed.
    refresh_interval_s: float = 0.5
    # How often the host publishes its canary tallies, and judges the canaries it leads.
    canary_interval_s: float = 1.0
    # Bytes of compiled modules kept in memory (least recently used out).
    cache_bytes: int = 1024 * MiB
    # The hard cap on any upload; namespaces may have a smaller quota.
    max_upload_bytes: int = 32 * MiB
    max_request_body_bytes: int = 1 * MiB
    # Built-in quotas, under the registry's defaults/namespace/endpoint layers.
    default_quotas: EndpointQuotas = field(default_factory=EndpointQuotas)
    # Requests waiting for a sandbox worker before new ones are shed with 503.
    max_queue: int = 64
    # Shed an endpoint's new requests while its oldest queued one has waited
    # longer than this; None: half the endpoint's wall-clock quota.
    queue_latency_budget_ms: float | None = None
    breaker: BreakerPolicy = field(default_factory=BreakerPolicy)
    # Refusals of an endpoint that will not run for a while (breaker open,
    # switched off) are held this long at most before they are sent, at most
    # `max_held_refusals` at once per process (host.protect.RefusalPacer).
    refusal_hold_s: float = 1.0
    max_held_refusals: int = 1000
    log_format: LogFormat = LogFormat.CONSOLE
    # wasmtime's own compilation cache; None keeps it in the data dir.
    compile_cache_dir: Path | None = None
    # Compiled artifacts read into each process's memory rather than mapped
    # from their files (see SandboxEngine.load_artifact).
    artifacts_in_memory: bool = False
    # Set by `serve --processes N` for its children: the directory they share
    # (Prometheus's multiprocess files, the sockets siblings answer on).
    # None: a single process.
    process_dir: Path | None = None

    @property
    def artifact_dir(self) -> Path:
        return self.data_dir / "artifacts"

    @property
    def wasmtime_cache_dir(self) -> Path:
        return self.compile_cache_dir or self.data_dir / "wasmtime-cache"
