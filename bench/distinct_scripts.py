"""Scale with distinct scripts: N JavaScript and N Python scripts, all different, on one host.

    python -m bench.distinct_scripts [--scripts N] [--components K] [--seconds S]
                                     [--languages js,python]

Each script is deployed with `scripthost deploy` (a bundle on the shared
runtime of its language) and timed from the command to the first 200 on its
endpoint; the first deploy of each language, which brings and compiles the
runtime, is reported on its own. Then: what the registry stores per version
(its database and blobs, runtimes excluded), the host's RSS once every script
has served, and p50/p99 of one hot endpoint under wrk while every other one
is warm. The same for K distinct scripts deployed as components of their own
(`--component`: a build and a compile each), for comparison.
Results: bench/results/distinct_scripts.{json,md}.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import platform
import resource
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
import psutil

from bench._wrk import run_wrk
from host.build import REPO_ROOT
from registry.sqlite import BLOB_DIR_NAME, DATABASE_NAME
from tests.support.hosts import HostProcess

RESULTS = REPO_ROOT / "bench" / "results"
LANGUAGES = ("js", "python")


@dataclass
class Figures:
    """One way of deploying (bundles or components), measured for one language."""

    form: str
    language: str
    scripts: int
    first_deploy_s: float = 0.0
    deploy_s: list[float] = field(default_factory=list)
    # CPU the deploy command used (the CLI, and node or Python building): on a
    # loaded machine the wall clock says more about the neighbours.
    deploy_cpu_s: list[float] = field(default_factory=list)
    stored_bytes_per_version: float = 0.0
    rss_first_mib: float = 0.0
    rss_all_mib: float = 0.0
    # RSS after every hundredth deploy (each deploy ends with a 200 from its script).
    rss_by_scripts_mib: dict[int, float] = field(default_factory=dict)
    hot_requests_per_s: float = 0.0
    hot_p50_ms: float = 0.0
    hot_p99_ms: float = 0.0

    @property
    def rss_per_script_mib(self) -> float:
        return (self.rss_all_mib - self.rss_first_mib) / max(1, self.scripts - 1)

    def summary(self) -> dict[str, object]:
        deploys = sorted(self.deploy_s)
        return {
            **{k: v for k, v in asdict(self).items() if k not in {"deploy_s", "deploy_cpu_s"}},
            "deploy_median_s": round(statistics.median(deploys), 3) if deploys else None,
            "deploy_cpu_median_s": round(statistics.median(self.deploy_cpu_s), 3)
            if self.deploy_cpu_s
            else None,
            "deploy_max_s": round(deploys[-1], 3) if deploys else None,
            "rss_per_script_mib": round(self.rss_per_script_mib, 2),
        }


def script_source(language: str, n: int, run: str) -> str:
    """Script number `n` of run `run`: its own constants, a small JSON transform.

    The run's id makes every script new to the build cache and the compile cache.
    """
    if language == "js":
        return (
            f"// run {run}\n"
            "import { json } from '@scripthost/sdk';\n\n"
            f"const LABELS = ['first-{n}', 'second-{n}', 'third-{n}'];\n\n"
            "export function handle(req) {\n"
            "  const user = req.params.get('user') ?? 'anonymous';\n"
            f"  const rows = LABELS.map((label, i) => ({{ label, rank: i * {n % 13 + 1} }}));\n"
            f"  return json({{ script: {n}, user, rows }});\n"
            "}\n"
        )
    return (
        f"# run {run}\n"
        "from scripthost_sdk import Request, Response, json_response\n\n"
        f"LABELS = ['first-{n}', 'second-{n}', 'third-{n}']\n\n\n"
        "def handle(req: Request) -> Response:\n"
        "    user = req.params.get('user', 'anonymous')\n"
        f"    rows = [{{'label': label, 'rank': index * {n % 13 + 1}}}"
        " for index, label in enumerate(LABELS)]\n"
        f"    return json_response({{'script': {n}, 'user': user, 'rows': rows}})\n"
    )


def deploy_timed(
    host: HostProcess, script: Path, endpoint: str, *extra: str
) -> tuple[float, float]:
    """Seconds from `scripthost deploy` to the first 200 on the endpoint, and its CPU seconds."""
    started = time.monotonic()
    cpu_before = _children_cpu()
    host.cli("deploy", str(script), "--endpoint", endpoint, *extra)
    cpu = _children_cpu() - cpu_before
    with httpx.Client(timeout=30.0) as client:
        while client.get(f"{host.url}/{endpoint}").status_code != 200:
            time.sleep(0.005)
    return time.monotonic() - started, cpu


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def registry_bytes(host: HostProcess) -> int:
    """What the registry holds: its database (write-ahead log folded in) and its blobs."""
    database = host.data_dir / DATABASE_NAME
    with contextlib.closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    stored = [*host.data_dir.glob(f"{DATABASE_NAME}*"), *(host.data_dir / BLOB_DIR_NAME).rglob("*")]
    return sum(path.stat().st_size for path in stored if path.is_file())


def rss_mib(host: HostProcess) -> float:
    assert host.process is not None
    return psutil.Process(host.process.pid).memory_info().rss / 2**20


def measure(
    scratch: Path, form: str, language: str, count: int, seconds: float, say: Callable[[str], None]
) -> Figures:
    folder = scratch / f"{form}-{language}"
    folder.mkdir()
    host = HostProcess(folder / "host", extra_args=["--workers", "4"]).start()
    figures = Figures(form, language, count)
    extra = ("--component",) if form == "component" else ()
    suffix = "js" if language == "js" else "py"
    try:
        for n in range(count):
            script = folder / f"s{n}.{suffix}"
            script.write_text(script_source(language, n, scratch.name))
            seconds_taken, cpu = deploy_timed(host, script, f"scale/s{n}", *extra)
            if n == 0:
                figures.first_deploy_s = round(seconds_taken, 3)
                figures.rss_first_mib = round(rss_mib(host), 1)
                stored_first = registry_bytes(host)
            else:
                figures.deploy_s.append(round(seconds_taken, 3))
                figures.deploy_cpu_s.append(round(cpu, 3))
            if (n + 1) % 100 == 0:
                figures.rss_by_scripts_mib[n + 1] = round(rss_mib(host), 1)
            if n % 20 == 0 or n == count - 1:
                say(f"  {form} {language}: {n + 1}/{count} deployed, last in {seconds_taken:.2f} s")
        with httpx.Client(timeout=30.0) as client:
            for n in range(count):
                client.get(f"{host.url}/scale/s{n}").raise_for_status()
        figures.rss_all_mib = round(rss_mib(host), 1)
        # The first deploy stored the runtime (once per fleet); a component stores its own.
        stored = registry_bytes(host) - stored_first
        figures.stored_bytes_per_version = round(stored / max(1, count - 1))
        hot = f"{host.url}/scale/s{count // 2}"
        run_wrk(hot, 16, 1)
        result = run_wrk(hot, 16, seconds)
        figures.hot_requests_per_s = result.requests_per_s
        figures.hot_p50_ms, figures.hot_p99_ms = result.p50_ms, result.p99_ms
    finally:
        host.stop()
    return figures


def markdown(document: dict[str, object]) -> str:
    rows = document["results"]
    assert isinstance(rows, list)
    lines = [
        f"Machine: {document['machine']}. One host, SQLite registry, `--workers 4`; "
        f"wrk -t1 -c16 for {document['seconds']} s on one endpoint while every other "
        "is deployed and warm.",
        "",
        "| form | language | scripts | first deploy (runtime) | deploy median | deploy max "
        "| deploy CPU median "
        "| stored per version | RSS after first | RSS after all | RSS per extra script "
        "| hot req/s | p50 ms | p99 ms |",
        "| --- | --- |" + " ---: |" * 12,
    ]
    for r in rows:
        lines.append(
            f"| {r['form']} | {r['language']} | {r['scripts']} | {r['first_deploy_s']:.2f} s "
            f"| {r['deploy_median_s']:.2f} s | {r['deploy_max_s']:.2f} s "
            f"| {r['deploy_cpu_median_s']:.2f} s "
            f"| {r['stored_bytes_per_version'] / 1024:,.1f} KiB | {r['rss_first_mib']:.0f} MiB "
            f"| {r['rss_all_mib']:.0f} MiB | {r['rss_per_script_mib']:.2f} MiB "
            f"| {r['hot_requests_per_s']:.0f} | {r['hot_p50_ms']:.1f} | {r['hot_p99_ms']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scripts", type=int, default=200, help="distinct bundles per language")
    parser.add_argument(
        "--components",
        type=int,
        default=3,
        help="distinct components per language (2 or more; 0 measures bundles only)",
    )
    parser.add_argument(
        "--languages",
        default=",".join(LANGUAGES),
        help=f"comma-separated, of {', '.join(LANGUAGES)}",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="wrk run on the hot endpoint")
    parser.add_argument("--name", default="distinct_scripts", help="results file name")
    args = parser.parse_args()
    languages = [language for language in args.languages.split(",") if language]
    if not languages or not set(languages) <= set(LANGUAGES):
        parser.error(f"--languages takes a comma-separated list of {', '.join(LANGUAGES)}")
    forms = [("bundle", args.scripts), ("component", args.components)]
    results = []
    with tempfile.TemporaryDirectory(prefix="scripthost-distinct-") as scratch:
        for form, count in forms:
            if count == 0:
                continue
            for language in languages:
                figures = measure(Path(scratch), form, language, count, args.seconds, print)
                results.append(figures.summary())
                print(json.dumps(results[-1]), flush=True)
    document = {
        "machine": f"{platform.machine()}, {psutil.cpu_count()} cores, {platform.system()}, "
        f"Python {platform.python_version()}",
        "seconds": args.seconds,
        "results": results,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(document, indent=2) + "\n")
    table = markdown(document)
    (RESULTS / f"{args.name}.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
