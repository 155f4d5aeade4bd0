"""A script on its shared runtime against the same script as a component of its own.

    python -m bench.runtime_overhead [--runs N] [--quick]

Every figure comes from this one run, side by side, in one process: the
fresh-instance path (new Store + instantiate + handle + teardown, what every
request pays) of the hello and home scripts as dedicated components and as
bundles on the runtimes, alternating request by request so drift on a shared
machine hits both alike; then how a bundle's evaluation grows with its size (1 KB,
20 KB and 200 KB of code the script defines at top level), with what
preparing it at deploy costs. Results: bench/results/runtime_overhead.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from wasmtime import component as wc

from bench.sandbox_overhead import REQUEST, SCRIPTS, context, percentile
from host.build import REPO_ROOT, build_all_cached, build_bundle, runtime_component
from host.sandbox import (
    ABI_VERSION,
    CompiledModule,
    Limits,
    Sandbox,
    SandboxEngine,
    on_runtime,
    parse_bundle,
)

RESULTS = REPO_ROOT / "bench" / "results"
SIZES_KB = (1, 20, 200)
LIMITS = Limits(fuel=20_000_000_000, timeout_ms=30_000)
Runs = tuple[list[float], int]


@dataclass
class SideBySide:
    script: str
    component_median_ms: float
    component_p99_ms: float
    component_cpu_median_ms: float
    component_fuel: int
    runtime_median_ms: float
    runtime_p99_ms: float
    runtime_cpu_median_ms: float
    runtime_fuel: int
    bundle_bytes: int

    @property
    def ratio(self) -> float:
        """Of the CPU time: on a shared machine the wall clock also counts the neighbours."""
        return self.runtime_cpu_median_ms / self.component_cpu_median_ms


@dataclass
class BySize:
    script: str
    bundle_bytes: int
    prepared_bytes: int
    prepare_ms: float
    fresh_median_ms: float
    fresh_p99_ms: float
    fuel_per_request: int


class Bench:
    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.engine = SandboxEngine(cache_dir=REPO_ROOT / ".build" / "wasmtime-cache")
        self.sandbox = Sandbox(self.engine, workers=1)
        self.runtimes = {
            language: self.engine.compile(runtime_component(language).read_bytes())
            for language in ("js", "python")
        }

    def bundled(self, source: Path) -> tuple[CompiledModule, int, int, float]:
        """The script on its runtime; its bundle and prepared sizes, and prepare's time."""
        data = build_bundle(source, self.scratch / f"{source.stem}.bundle").read_bytes()
        bundle = parse_bundle(data, ABI_VERSION)
        runtime = self.runtimes[bundle.runtime.language]
        assert isinstance(runtime.code, wc.Component)
        started = time.perf_counter()
        prepared = self.sandbox.runtimes.prepare(runtime.code, bundle.payload)
        prepare_ms = (time.perf_counter() - started) * 1000
        return on_runtime(runtime, bundle, prepared), len(data), len(prepared), prepare_ms

    def runs(self, module: CompiledModule, count: int, cpu: list[float] | None = None) -> Runs:
        """Wall-clock ms of `count` fresh instances (their CPU ms into `cpu`), and the fuel."""
        samples, fuel = [], 0
        for _ in range(count):
            started, cpu_started = time.perf_counter(), time.thread_time()
            result = self.sandbox.run_sync(module, REQUEST, context(LIMITS))
            samples.append((time.perf_counter() - started) * 1000)
            if cpu is not None:
                cpu.append((time.thread_time() - cpu_started) * 1000)
            assert result.response is not None, (result.failure_message, result.guest_detail)
            fuel = result.fuel_used
        return samples, fuel

    def close(self) -> None:
        self.sandbox.close()
        self.engine.close()


def side_by_side(bench: Bench, runs: int) -> list[SideBySide]:
    components = dict(zip(SCRIPTS, build_all_cached(SCRIPTS.values()), strict=True))
    figures = []
    for name, source in SCRIPTS.items():
        component = bench.engine.compile(components[name].read_bytes())
        bundled, bundle_bytes, _, _ = bench.bundled(source)
        for module in (component, bundled):
            bench.runs(module, max(20, runs // 10))  # warm-up
        ours: list[float] = []
        theirs: list[float] = []
        ours_cpu: list[float] = []
        theirs_cpu: list[float] = []
        fuel = {"component": 0, "runtime": 0}
        # Alternating request by request: drift on a shared machine hits both alike.
        for _ in range(runs):
            sample, fuel["component"] = bench.runs(component, 1, theirs_cpu)
            theirs += sample
            sample, fuel["runtime"] = bench.runs(bundled, 1, ours_cpu)
            ours += sample
        figures.append(
            SideBySide(
                script=name,
                component_median_ms=round(statistics.median(theirs), 3),
                component_p99_ms=round(percentile(theirs, 0.99), 3),
                component_cpu_median_ms=round(statistics.median(theirs_cpu), 3),
                component_fuel=fuel["component"],
                runtime_median_ms=round(statistics.median(ours), 3),
                runtime_p99_ms=round(percentile(ours, 0.99), 3),
                runtime_cpu_median_ms=round(statistics.median(ours_cpu), 3),
                runtime_fuel=fuel["runtime"],
                bundle_bytes=bundle_bytes,
            )
        )
        print(f"  {name}: {figures[-1].ratio:.2f}x", flush=True)
    return figures


def sized_script(language: str, kilobytes: int, folder: Path) -> Path:
    """A script whose own code is about `kilobytes` KB: many small functions, one called.

    A table holds every function, so that the bundler keeps them all.
    """
    if language == "js":
        write: Callable[[int], str] = lambda n: (  # noqa: E731
            f"function step{n}(value) {{\n  const scaled = value * {n % 7 + 1};\n"
            f"  return {{ id: {n}, label: 'step-{n}', scaled }};\n}}\n"
        )
        head = "import { json } from '@scripthost/sdk';\n"
        tail = "export function handle() {\n  return json(STEPS[0](1));\n}\n"
        table = "const STEPS = [{}];\n"
    else:
        write = lambda n: (  # noqa: E731
            f"def step{n}(value):\n    scaled = value * {n % 7 + 1}\n"
            f"    return {{'id': {n}, 'label': 'step-{n}', 'scaled': scaled}}\n\n\n"
        )
        head = "from scripthost_sdk import json_response\n\n\n"
        tail = "\n\ndef handle(req):\n    return json_response(STEPS[0](1))\n"
        table = "STEPS = [{}]\n"
    parts, size, count = [head], len(head) + len(tail), 0
    while size < kilobytes * 1024:
        parts.append(write(count))
        size += len(parts[-1]) + len(f"step{count}, ")
        count += 1
    steps = table.format(", ".join(f"step{n}" for n in range(count)))
    path = folder / f"sized{kilobytes}.{'js' if language == 'js' else 'py'}"
    path.write_text("".join([*parts, steps, tail]))
    return path


def by_size(bench: Bench, runs: int) -> list[BySize]:
    figures = []
    for language in ("js", "python"):
        for kilobytes in SIZES_KB:
            source = sized_script(language, kilobytes, bench.scratch)
            module, bundle_bytes, prepared_bytes, prepare_ms = bench.bundled(source)
            bench.runs(module, 5)
            samples, fuel = bench.runs(module, max(20, runs // 5))
            figures.append(
                BySize(
                    script=f"{language} {kilobytes} KB",
                    bundle_bytes=bundle_bytes,
                    prepared_bytes=prepared_bytes,
                    prepare_ms=round(prepare_ms, 1),
                    fresh_median_ms=round(statistics.median(samples), 3),
                    fresh_p99_ms=round(percentile(samples, 0.99), 3),
                    fuel_per_request=fuel,
                )
            )
            print(f"  {figures[-1].script}: {figures[-1].fresh_median_ms} ms", flush=True)
    return figures


def markdown(machine: str, runs: int, pairs: list[SideBySide], sizes: list[BySize]) -> str:
    lines = [
        f"Machine: {machine}; {runs} fresh instances of each, alternating one by one. "
        "Wall clock and CPU time of the thread that ran each; the ratio is of the CPU "
        "medians (the wall clock of a shared machine also counts its other load).",
        "",
        "| script | component median | p99 | CPU | fuel | runtime median | p99 | CPU | fuel "
        "| bundle | runtime / component |",
        "| --- |" + " ---: |" * 10,
    ]
    for f in pairs:
        lines.append(
            f"| {f.script} | {f.component_median_ms:.3f} ms | {f.component_p99_ms:.3f} ms "
            f"| {f.component_cpu_median_ms:.3f} ms | {f.component_fuel:,} "
            f"| {f.runtime_median_ms:.3f} ms | {f.runtime_p99_ms:.3f} ms "
            f"| {f.runtime_cpu_median_ms:.3f} ms | {f.runtime_fuel:,} "
            f"| {f.bundle_bytes:,} B | {f.ratio:.2f}x |"
        )
    lines += [
        "",
        "Evaluation cost by bundle size (each fresh instance evaluates the bundle; prepare "
        "runs once, at deploy):",
        "",
        "| script | bundle | prepared | prepare | fresh instance median | p99 | fuel |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in sizes:
        lines.append(
            f"| {s.script} | {s.bundle_bytes / 1024:,.1f} KiB | {s.prepared_bytes / 1024:,.1f} KiB "
            f"| {s.prepare_ms:,.1f} ms | {s.fresh_median_ms:.3f} ms | {s.fresh_p99_ms:.3f} ms "
            f"| {s.fuel_per_request:,} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--quick", action="store_true", help="200 runs, results not saved")
    args = parser.parse_args()
    runs = 200 if args.quick else args.runs
    with tempfile.TemporaryDirectory(prefix="scripthost-runtime-bench-") as scratch:
        bench = Bench(Path(scratch))
        try:
            pairs = side_by_side(bench, runs)
            sizes = by_size(bench, runs)
        finally:
            bench.close()
    machine = f"{platform.machine()}, {platform.system()}, Python {platform.python_version()}"
    table = markdown(machine, runs, pairs, sizes)
    if not args.quick:
        RESULTS.mkdir(parents=True, exist_ok=True)
        document = {
            "machine": machine,
            "runs": runs,
            "side_by_side": [{**asdict(f), "ratio": round(f.ratio, 3)} for f in pairs],
            "by_size": [asdict(s) for s in sizes],
        }
        (RESULTS / "runtime_overhead.json").write_text(json.dumps(document, indent=2) + "\n")
        (RESULTS / "runtime_overhead.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
