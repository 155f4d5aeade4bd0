"""Runs that stand still: the longest runs of the hello endpoints over minutes of load.

    python -m bench.reuse_stalls [--cycles N]

The host of `bench.compare` (every workload deployed, fresh and with
instance reuse, two processes) serves the four hello endpoints in the
comparison's order, `--cycles` times (each cycle ~80 s of wrk at 16 and 64
connections), once with artifacts mapped from their files (the default) and
once with `serve --artifacts-in-memory`, in one run. Reported for each:
every run the host logged, how many took over 100 ms and 500 ms, the
longest, the host processes' major page faults (a fault that had to wait
and retry counts as one), the requests per second and wrk's p99 per
endpoint. Results: bench/results/reuse_stalls.{json,md}.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import platform
import tempfile
from pathlib import Path
from typing import Any

import psutil

from bench.compare import FULL, measure, slow_backend, start_scripthost
from host.build import REPO_ROOT

RESULTS = REPO_ROOT / "bench" / "results"
ENDPOINTS = ("hello-js-fresh", "hello-js-reuse", "hello-py-fresh", "hello-py-reuse")
SLOW_MS = (100, 500)


def major_faults(process: psutil.Process) -> int:
    """Major page faults of `process` and its children so far (/proc's `majflt`)."""
    total = 0
    for each in [process, *process.children(recursive=True)]:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{each.pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[9])
    return total


def run_durations(host_log: Path) -> list[float]:
    """Every run's wall time (ms) in the host's JSON request log."""
    durations = []
    for line in host_log.read_text().splitlines():
        if '"event": "request"' in line:
            with contextlib.suppress(ValueError, KeyError):
                durations.append(float(json.loads(line)["duration_ms"]))
    return durations


MODES = {"mapped": (), "in memory": ("--artifacts-in-memory",)}


def measure_stalls(cycles: int, extra_args: tuple[str, ...]) -> dict[str, Any]:
    scratch = Path(tempfile.mkdtemp(prefix="reuse-stalls-"))
    p99s: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    rates: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    with slow_backend(scratch) as backend:
        host, paths = start_scripthost(scratch, backend, extra_args)
        try:
            assert host.process is not None
            server = psutil.Process(host.process.pid)
            faults_before = major_faults(server)
            for _ in range(cycles):
                for name in ENDPOINTS:
                    url = host.url + paths[name]
                    with contextlib.redirect_stdout(io.StringIO()):
                        rows = measure(name, server.pid, url, "hello", Path(), FULL)
                    p99s[name] += [round(row.p99_ms, 1) for row in rows]
                    rates[name] += [round(row.requests_per_s) for row in rows]
            faults = major_faults(server) - faults_before
        finally:
            host.stop()
    durations = run_durations(scratch / "scripthost" / "host.log")
    return {
        "runs": len(durations),
        "slow_runs": {f"over_{limit}_ms": sum(d > limit for d in durations) for limit in SLOW_MS},
        "longest_run_ms": max(durations, default=0.0),
        "major_faults": faults,
        "p99_ms": p99s,
        "requests_per_s": rates,
    }


def markdown(document: dict[str, Any]) -> str:
    lines = [
        "# Runs that stand still (`python -m bench.reuse_stalls`)",
        "",
        f"{document['cycles']} cycles of the hello endpoints at 16 and 64 connections per mode,"
        " in one run.",
        "",
        "| artifacts | runs | over 100 ms | over 500 ms | longest (ms) | major faults |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mode, found in document["modes"].items():
        slow = found["slow_runs"]
        lines.append(
            f"| {mode} | {found['runs']:,} | {slow['over_100_ms']} | {slow['over_500_ms']} "
            f"| {found['longest_run_ms']:,.1f} | {found['major_faults']} |"
        )
    lines += ["", "| artifacts | endpoint | req/s per round | wrk p99 per round (ms) |"]
    lines.append("| --- | --- | --- | --- |")
    for mode, found in document["modes"].items():
        for name, p99 in found["p99_ms"].items():
            rates = ", ".join(f"{rate:,}" for rate in found["requests_per_s"][name])
            lines.append(f"| {mode} | {name} | {rates} | {', '.join(map(str, p99))} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=2, help="rounds of the four endpoints")
    cycles = parser.parse_args().cycles
    document = {
        "machine": {"cpus": psutil.cpu_count(), "python": platform.python_version()},
        "cycles": cycles,
        "modes": {mode: measure_stalls(cycles, args) for mode, args in MODES.items()},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "reuse_stalls.json").write_text(json.dumps(document, indent=2) + "\n")
    (RESULTS / "reuse_stalls.md").write_text(markdown(document))
    print(markdown(document))


if __name__ == "__main__":
    main()
