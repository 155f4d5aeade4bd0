"""The aggregate workload against a cacheable backend, with the shared response cache off and on.

    python -m bench.backend_cache [--quick]

The aggregate script (bench/workloads/aggregate.*) asks one backend for three
parts in one batch; the backend answers each in 20 ms with
`Cache-Control: public, max-age=1`. Three catalogues for the same service:
no cache; a cache that honours the service's max-age (each part is fetched
about once a second); a cache with a 60 s TTL. For each: req/s and latency
from wrk, and the calls the backend received per device request.
Results: bench/results/backend_cache.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from bench._procs import Server
from bench._wrk import run_wrk
from bench.compare import machine
from host.build import REPO_ROOT, build_all_cached
from tests.support.hosts import HostProcess
from tests.support.servers import free_port

RESULTS = REPO_ROOT / "bench" / "results"
WORKLOADS = REPO_ROOT / "bench" / "workloads"
NODE = shutil.which("node") or "node"
BACKEND_CACHING = "public, max-age=1"
CONFIGURATIONS: dict[str, dict[str, Any] | None] = {
    "cache off": None,
    "cache on, the service's max-age (1 s)": {},
    "cache on, 60 s TTL": {"ttl_s": 60},
}


@dataclass
class Settings:
    seconds: float
    warmup: float
    connections: int = 16


FULL = Settings(seconds=10, warmup=3)
QUICK = Settings(seconds=3, warmup=1)


@dataclass
class Row:
    configuration: str
    language: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    backend_calls: int

    @property
    def calls_per_request(self) -> float:
        """Per answered request: a request shed with 503 calls no backend."""
        answered = self.requests - self.errors
        return self.backend_calls / answered if answered else float("nan")


def served_count(backend: str) -> int:
    count: int = httpx.get(f"{backend}/_count").raise_for_status().json()["count"]
    return count


def start_host(scratch: Path, name: str, backend: str, cache: dict[str, Any] | None) -> HostProcess:
    service: dict[str, Any] = {"name": "slow", "url": backend}
    if cache is not None:
        service["cache"] = cache
    catalogue = scratch / f"{name}.json"
    catalogue.write_text(json.dumps({"services": [service]}))
    return HostProcess(
        scratch / name,
        extra_args=["--catalogue", str(catalogue), "--workers", "8", "--log-format", "json"],
    ).start()


def measure(scratch: Path, backend: str, modules: dict[str, Path], settings: Settings) -> list[Row]:
    rows: list[Row] = []
    for index, (configuration, cache) in enumerate(CONFIGURATIONS.items()):
        host = start_host(scratch, f"host{index}", backend, cache)
        try:
            for language, module in modules.items():
                host.cli("deploy", str(module), "--endpoint", f"bench/aggregate-{language}")
                url = f"{host.url}/bench/aggregate-{language}"
                run_wrk(url, settings.connections, settings.warmup)
                before = served_count(backend)
                result = run_wrk(url, settings.connections, settings.seconds)
                row = Row(
                    configuration,
                    language,
                    result.requests_per_s,
                    result.p50_ms,
                    result.p99_ms,
                    result.errors,
                    result.requests,
                    served_count(backend) - before,
                )
                rows.append(row)
                print(
                    f"  {configuration:>38} {language}: {row.requests_per_s:7.1f} req/s"
                    f"  p50 {row.p50_ms:7.2f} ms  p99 {row.p99_ms:7.2f} ms"
                    f"  {row.calls_per_request:.3f} backend calls per request",
                    flush=True,
                )
        finally:
            host.stop()
    return rows


def markdown(document: dict[str, Any]) -> str:
    lines = [
        f"Machine: {document['machine']}. The aggregate workload (three backend calls in one "
        f"batch, 20 ms each) against a backend answering `Cache-Control: {BACKEND_CACHING}`; "
        f"wrk, one thread, {document['settings']['connections']} connections, "
        f"{document['settings']['seconds']:g} s per run after a warm-up; a fresh instance per "
        "request. Backend calls are what the backend counted during the run, per answered "
        "request (errors are requests the host shed with 503 `overloaded`, which call nothing). "
        f"Load average when the runs ended: {document['load_average']}: other work shared "
        "the cores, so read the ratios rather than the absolutes.",
        "",
        "| catalogue | script | req/s | p50 ms | p99 ms | errors | backend calls per request |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in (Row(**fields) for fields in document["rows"]):
        lines.append(
            f"| {row.configuration} | {row.language} | {row.requests_per_s:.1f} "
            f"| {row.p50_ms:.1f} | {row.p99_ms:.1f} | {row.errors} "
            f"| {row.calls_per_request:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (about a minute)")
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    scratch = Path(tempfile.mkdtemp(prefix="scripthost-backend-cache-"))
    sources = {"js": WORKLOADS / "aggregate.js", "py": WORKLOADS / "aggregate.py"}
    modules = dict(zip(sources, build_all_cached(sources.values()), strict=True))
    port = free_port()
    backend = f"http://127.0.0.1:{port}"
    script = REPO_ROOT / "bench" / "baselines" / "slow_backend.mjs"
    slow = Server(
        "cacheable backend",
        [NODE, str(script), str(port), "20", BACKEND_CACHING],
        f"{backend}/_count",
        scratch / "backend.log",
    ).start()
    try:
        rows = measure(scratch, backend, modules, settings)
    finally:
        slow.stop()
    document = {
        "machine": machine(),
        # Other work on the machine during the run (1, 5, 15 minutes): read the ratios.
        "load_average": [round(load, 1) for load in os.getloadavg()],
        "settings": asdict(settings),
        "rows": [asdict(r) for r in rows],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "backend_cache-quick" if args.quick else "backend_cache"
    (RESULTS / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(document))
    print(markdown(document))


if __name__ == "__main__":
    main()
