"""Noisy neighbours: does a well-behaved endpoint keep serving while others misbehave?

    python -m bench.noisy_neighbour [--seconds S] [--good-callers N] [--noisy-callers N]
                                    [--processes N]

One host (a real `scripthost serve` on loopback, default settings: one
process per core unless `--processes` says otherwise) serves the
JavaScript home example (two backend calls) and five misbehaving endpoints:
one that loops until its fuel runs out, one that allocates until its memory
quota stops it, one that loops until its wall-clock quota stops it, one that
blocks in a host call on a 30 s WASI timer (a hand-written component), and
one whose component declares a table of 100 M elements. The home endpoint is
measured alone, then again while the others are hammered, in the same run,
with one wrk per endpoint as the load. Results go to
bench/results/noisy_neighbour.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bench._wrk import WrkResult, run_wrk
from host.build import REPO_ROOT, build_all_cached
from tests.support.components import handle_component, sleeper
from tests.support.hosts import HostProcess
from tests.support.servers import example_backend

RESULTS = REPO_ROOT / "bench" / "results"
ADVERSARIAL = REPO_ROOT / "tests" / "sandbox" / "scripts" / "js"
SCRIPTS = {
    "home": REPO_ROOT / "examples" / "home-js" / "home.js",
    "loop": ADVERSARIAL / "loop.js",
    "alloc": ADVERSARIAL / "alloc.js",
}
# Quotas that turn the looping script into one that holds a worker until its
# wall-clock limit instead of its fuel.
SLOW_QUOTAS = {"fuel": 10**13, "timeout_ms": 500}
NOISY = ("loop", "alloc", "slow", "sleeper", "tables")
# Hand-written components no SDK would build.
HOSTILE: dict[str, Callable[[], bytes]] = {
    # Waits on a 30 s monotonic-clock timer in `pollable.block`.
    "sleeper": lambda: sleeper(30 * 10**9),
    # Declares a funcref table of 100 M elements (763 MiB).
    "tables": lambda: handle_component(module_fields="(table 100000000 funcref)"),
}


def deploy(host: HostProcess, modules: dict[str, Path]) -> None:
    for endpoint, script in (
        ("home", "home"),
        ("loop", "loop"),
        ("alloc", "alloc"),
        ("slow", "loop"),
        ("sleeper", "sleeper"),
        ("tables", "tables"),
    ):
        host.cli("deploy", str(modules[script]), "--endpoint", f"bench/{endpoint}")
    with host.admin() as admin:
        admin.put("/endpoints/bench/slow/-/quotas", json={"quotas": SLOW_QUOTAS}).raise_for_status()


def run(
    seconds: float, good_callers: int, noisy_callers: int, data_dir: Path, processes: int = 1
) -> dict[str, Any]:
    modules = dict(zip(SCRIPTS, build_all_cached(SCRIPTS.values()), strict=True))
    for name, make in HOSTILE.items():
        modules[name] = data_dir.parent / f"{name}.wasm"
        modules[name].write_bytes(make())
    with example_backend() as backend:
        host = HostProcess(
            data_dir,
            backends=[f"profile={backend}/profile", f"recommendations={backend}/recommendations"],
            processes=processes,
        ).start()
        try:
            deploy(host, modules)
            good = f"{host.url}/bench/home?user=42"
            run_wrk(good, good_callers, 2)  # warm-up
            solo = run_wrk(good, good_callers, seconds)
            before = outcomes(host)
            noisy = {f"{host.url}/bench/{name}": noisy_callers for name in NOISY}
            together = all_at_once({good: good_callers, **noisy}, seconds)
            noisy_outcomes = outcomes(host, since=before)
            info = host.host_info()
        finally:
            host.stop()
    return {
        "machine": f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}",
        "seconds_per_phase": seconds,
        "processes": processes,
        "good_callers": good_callers,
        "noisy_callers_per_endpoint": noisy_callers,
        "good_alone": summary(solo),
        "good_with_noise": summary(together[good]),
        "p99_ratio": round(together[good].p99_ms / solo.p99_ms, 2),
        "good_outcomes": noisy_outcomes.get("home", {}),
        "noisy": {
            name: {"requests": together[url].requests, "outcomes": noisy_outcomes.get(name, {})}
            for name, url in zip(NOISY, noisy, strict=True)
        },
        "open_breakers_at_end": info["open_breakers"],
    }


def all_at_once(loads: dict[str, int], seconds: float) -> dict[str, WrkResult]:
    """One wrk per URL, all running at the same time."""
    with ThreadPoolExecutor(len(loads)) as pool:
        futures = {
            url: pool.submit(run_wrk, url, callers, seconds) for url, callers in loads.items()
        }
        return {url: future.result() for url, future in futures.items()}


def outcomes(
    host: HostProcess, since: dict[str, dict[str, int]] | None = None
) -> dict[str, dict[str, int]]:
    """Requests per noisy endpoint and outcome, from the host's own metrics."""
    counts: dict[str, dict[str, int]] = {}
    text = host.metrics_text()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name != "scripthost_requests_total":
                continue
            name = sample.labels["endpoint"].strip("/")
            label = f"{sample.labels['status']} {sample.labels['outcome']}"
            earlier = (since or {}).get(name, {}).get(label, 0)
            counts.setdefault(name, {})[label] = int(sample.value) - earlier
    return counts


def summary(result: WrkResult) -> dict[str, Any]:
    return {
        "requests": result.requests,
        "rps": result.requests_per_s,
        "success_rate": round(1 - result.errors / result.requests, 5) if result.requests else 0.0,
        "errors": result.errors,
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
    }


def markdown(figures: dict[str, Any]) -> str:
    alone, noisy = figures["good_alone"], figures["good_with_noise"]
    lines = [
        f"Noisy neighbours ({figures['machine']}; {figures['processes']} host processes; "
        f"{figures['seconds_per_phase']} s per phase, "
        f"{figures['good_callers']} callers on the good endpoint, "
        f"{figures['noisy_callers_per_endpoint']} on each noisy one)",
        "",
        "| good endpoint | requests | success | p50 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: |",
        _good_row("alone", alone),
        _good_row("beside noisy", noisy),
        "",
        f"p99 with noise / alone: **{figures['p99_ratio']}x** (target: at most 3x)",
        "",
        "good endpoint beside noisy, by outcome: "
        + (_outcome_list(figures["good_outcomes"]) or "none recorded"),
        "",
        "| noisy endpoint | requests | outcomes |",
        "| --- | ---: | --- |",
    ]
    for name, result in figures["noisy"].items():
        lines.append(f"| {name} | {result['requests']} | {_outcome_list(result['outcomes'])} |")
    return "\n".join(lines) + "\n"


def _outcome_list(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items()) if v)


def _good_row(label: str, figures: dict[str, Any]) -> str:
    return (
        f"| {label} | {figures['requests']} | {figures['success_rate']:.2%} "
        f"| {figures['p50_ms']} | {figures['p99_ms']} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--good-callers", type=int, default=4)
    parser.add_argument("--noisy-callers", type=int, default=8)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="scripthost-bench-"))
    figures = run(
        args.seconds, args.good_callers, args.noisy_callers, scratch / "host", args.processes
    )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "noisy_neighbour.json").write_text(json.dumps(figures, indent=2) + "\n")
    table = markdown(figures)
    (RESULTS / "noisy_neighbour.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
