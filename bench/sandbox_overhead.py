"""Sandbox overhead per request, compile time and artifact sizes for the example scripts.

    python -m bench.sandbox_overhead [--runs N]

Every figure comes from this one run, side by side: the fresh-instance path
(new Store + instantiate + handle + teardown, what every request pays),
Cranelift compile time without any cache, the time to load the precompiled
artifact, and the sizes a registry stores.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from host.build import REPO_ROOT, build_all_cached
from host.sandbox import CompiledModule, Limits, RequestContext, SandboxEngine, ScriptRequest
from host.sandbox._component import ComponentRunner

RESULTS = REPO_ROOT / "bench" / "results"
SCRIPTS = {
    "js hello": REPO_ROOT / "tests" / "sandbox" / "scripts" / "js" / "ok.js",
    "python hello": REPO_ROOT / "tests" / "sandbox" / "scripts" / "py" / "ok.py",
    "js home example": REPO_ROOT / "examples" / "home-js" / "home.js",
    "python home example": REPO_ROOT / "examples" / "home-py" / "home.py",
}
# No `user` parameter: the examples answer 400 without a backend call, so
# what is timed is the sandbox plus the script's own work, no network.
REQUEST = ScriptRequest("GET", "/home", "", [("accept", "application/json")], b"", "bench/home")


@dataclass
class Figures:
    script: str
    component_bytes: int
    compile_s: float
    artifact_bytes: int
    artifact_load_ms: float
    fresh_median_ms: float
    fresh_p99_ms: float
    reuse_median_ms: float
    reuse_p99_ms: float
    fuel_per_request: int


def context(limits: Limits) -> RequestContext:
    return RequestContext(
        request_id="bench",
        endpoint=REQUEST.endpoint,
        version="bench",
        limits=limits,
        deadline=time.monotonic() + limits.timeout_ms / 1000,
    )


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def time_runs(
    runner: ComponentRunner, module: CompiledModule, runs: int, limits: Limits
) -> tuple[list[float], int]:
    samples, fuel = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        result = runner.run(module.code, REQUEST, context(limits))  # type: ignore[arg-type]
        samples.append((time.perf_counter() - started) * 1000)
        fuel = result.fuel_used
    return samples, fuel


def measure(name: str, component: Path, runs: int) -> Figures:
    wasm = component.read_bytes()
    engine = SandboxEngine(cache_dir=None)
    try:
        started = time.perf_counter()
        module = engine.compile(wasm)
        compile_s = time.perf_counter() - started
        artifact = engine.serialize(module)
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "artifact.bin"
            path.write_bytes(artifact)
            started = time.perf_counter()
            loaded = engine.load_artifact(module.kind, path, module.module_hash)
            load_ms = (time.perf_counter() - started) * 1000
            runner = ComponentRunner(engine.engine)
            fresh, reused = Limits(), Limits(reuse=runs)
            time_runs(runner, loaded, max(20, runs // 10), fresh)  # warm-up
            # Interleaved in blocks, so drift on a shared machine hits both alike.
            samples: list[float] = []
            reuse_samples: list[float] = []
            fuel = 0
            for _ in range(10):
                block, fuel = time_runs(runner, loaded, runs // 10, fresh)
                samples += block
                reuse_samples += time_runs(runner, loaded, runs // 10, reused)[0]
    finally:
        engine.close()
    return Figures(
        script=name,
        component_bytes=len(wasm),
        compile_s=round(compile_s, 2),
        artifact_bytes=len(artifact),
        artifact_load_ms=round(load_ms, 2),
        fresh_median_ms=round(statistics.median(samples), 3),
        fresh_p99_ms=round(percentile(samples, 0.99), 3),
        reuse_median_ms=round(statistics.median(reuse_samples), 3),
        reuse_p99_ms=round(percentile(reuse_samples, 0.99), 3),
        fuel_per_request=fuel,
    )


def markdown(figures: list[Figures]) -> str:
    lines = [
        "| script | component | compile | artifact | artifact load "
        "| fresh instance median | p99 | reused instance median | p99 | fuel |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for f in figures:
        lines.append(
            f"| {f.script} | {f.component_bytes / 2**20:.1f} MiB | {f.compile_s:.1f} s "
            f"| {f.artifact_bytes / 2**20:.1f} MiB | {f.artifact_load_ms:.1f} ms "
            f"| {f.fresh_median_ms:.3f} ms | {f.fresh_p99_ms:.3f} ms "
            f"| {f.reuse_median_ms:.3f} ms | {f.reuse_p99_ms:.3f} ms | {f.fuel_per_request:,} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    components = build_all_cached(SCRIPTS.values())
    figures = [
        measure(name, component, args.runs)
        for name, component in zip(SCRIPTS, components, strict=True)
    ]
    RESULTS.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}"
    document = {"machine": machine, "runs": args.runs, "results": [asdict(f) for f in figures]}
    (RESULTS / "sandbox.json").write_text(json.dumps(document, indent=2) + "\n")
    table = markdown(figures)
    (RESULTS / "sandbox.md").write_text(
        f"Machine: {machine}; {args.runs} requests each.\n\n{table}\n"
    )
    print(table)


if __name__ == "__main__":
    main()
