"""Noisy neighbours: does a well-behaved endpoint keep serving while others misbehave?

    python -m bench.noisy_neighbour [--seconds S] [--good-callers N] [--noisy-callers N]

One host (a real `scripthost serve` on loopback, default settings) serves the
JavaScript home example (two backend calls) and three misbehaving endpoints:
one that loops until its fuel runs out, one that allocates until its memory
quota stops it, one that loops until its wall-clock quota stops it. The home
endpoint is measured alone, then again while the other three are hammered,
in the same run. Results go to bench/results/noisy_neighbour.{json,md}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import tempfile
from pathlib import Path
from typing import Any

from bench._load import LoadResult, load
from host.build import REPO_ROOT, build_all_cached
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


def deploy(host: HostProcess, modules: dict[str, Path]) -> None:
    for endpoint, script in (
        ("home", "home"),
        ("loop", "loop"),
        ("alloc", "alloc"),
        ("slow", "loop"),
    ):
        host.cli("deploy", str(modules[script]), "--endpoint", f"bench/{endpoint}")
    with host.admin() as admin:
        admin.put("/endpoints/bench/slow/-/quotas", json={"quotas": SLOW_QUOTAS}).raise_for_status()


def run(seconds: float, good_callers: int, noisy_callers: int, data_dir: Path) -> dict[str, Any]:
    modules = dict(zip(SCRIPTS, build_all_cached(SCRIPTS.values()), strict=True))
    with example_backend() as backend:
        host = HostProcess(
            data_dir,
            backends=[f"profile={backend}/profile", f"recommendations={backend}/recommendations"],
        ).start()
        try:
            deploy(host, modules)
            good = f"{host.url}/bench/home?user=42"
            asyncio.run(load({good: good_callers}, 2.0))  # warm-up
            solo = asyncio.run(load({good: good_callers}, seconds))[good]
            noisy_urls = {
                f"{host.url}/bench/{name}": noisy_callers for name in ("loop", "alloc", "slow")
            }
            together = asyncio.run(load({good: good_callers, **noisy_urls}, seconds))
            info = host.host_info()
        finally:
            host.stop()
    return report(solo, together, good, info, seconds, good_callers, noisy_callers)


def report(
    solo: LoadResult,
    together: dict[str, LoadResult],
    good: str,
    info: dict[str, Any],
    seconds: float,
    good_callers: int,
    noisy_callers: int,
) -> dict[str, Any]:
    beside = together.pop(good)
    return {
        "machine": f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}",
        "seconds_per_phase": seconds,
        "good_callers": good_callers,
        "noisy_callers_per_endpoint": noisy_callers,
        "good_alone": solo.summary(),
        "good_with_noise": beside.summary(),
        "p99_ratio": round(beside.percentile_ms(99) / solo.percentile_ms(99), 2),
        "noisy": {url.rsplit("/", 1)[1]: result.summary() for url, result in together.items()},
        "open_breakers_at_end": info["open_breakers"],
    }


def markdown(figures: dict[str, Any]) -> str:
    alone, noisy = figures["good_alone"], figures["good_with_noise"]
    lines = [
        f"Noisy neighbours ({figures['machine']}; {figures['seconds_per_phase']} s per phase, "
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
        "| noisy endpoint | requests | outcomes |",
        "| --- | ---: | --- |",
    ]
    for name, result in figures["noisy"].items():
        outcomes = ", ".join(f"{k}: {v}" for k, v in sorted(result["outcomes"].items()))
        lines.append(f"| {name} | {result['requests']} | {outcomes} |")
    return "\n".join(lines) + "\n"


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
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="scripthost-bench-"))
    figures = run(args.seconds, args.good_callers, args.noisy_callers, scratch / "host")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "noisy_neighbour.json").write_text(json.dumps(figures, indent=2) + "\n")
    table = markdown(figures)
    (RESULTS / "noisy_neighbour.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
