"""What choosing a version costs a request: no split, a canary split, device-class rules.

    python -m bench.version_selection [--quick]

Two measurements, side by side with an endpoint that has no traffic policy:

- In process: the work the device path adds per request, exactly as it runs
  there: `choose` on the request's headers (Werkzeug's, as Quart hands them
  over) and, for a split, counting the request in its canary run's tally.
  Microseconds per request, the best of several rounds.
- Over HTTP: one host, the same module as v1 and v2 of one endpoint, wrk
  with no policy and with a 10 % canary, in alternating rounds; the scripts
  are identical, so any difference is the selection and the tally.

Results: bench/results/version_selection.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import timeit
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from werkzeug.datastructures import Headers

from bench._wrk import run_wrk
from bench.compare import machine
from host.build import REPO_ROOT, build_cached
from host.canary import CanaryTallies
from host.traffic import MAX_RULES, TrafficPlan, choose, plan_for
from registry import ClassRule, Traffic, TrafficPolicy
from tests.support.hosts import HostProcess

RESULTS = REPO_ROOT / "bench" / "results"
SCRIPT = REPO_ROOT / "tests" / "serve" / "scripts" / "home_v2.js"
KEY = ("bench", "/home")


@dataclass
class Settings:
    calls: int
    rounds: int
    seconds: float
    warmup: float
    http_rounds: int
    connections: int = 16


FULL = Settings(calls=200_000, rounds=7, seconds=10, warmup=3, http_rounds=4)
QUICK = Settings(calls=50_000, rounds=3, seconds=3, warmup=1, http_rounds=2)


@dataclass
class InProcess:
    case: str
    us_per_request: float


@dataclass
class OverHttp:
    case: str
    requests_per_s: list[float]
    p50_ms: list[float]
    p99_ms: list[float]


def device_headers(device: bool) -> Headers:
    """What a TV sends, with or without its device id."""
    headers = Headers(
        {
            "host": "127.0.0.1:8080",
            "user-agent": "tv-app/4.2",
            "accept": "application/json",
            "x-device-class": "tv",
            "x-request-id": "0f3c9b0e6a7d4c1e9a2b5d8f7e6c4b3a",
        }
    )
    if device:
        headers["x-device-id"] = "device-8c1f4e2a"
    return headers


def plan(policy: TrafficPolicy) -> TrafficPlan | None:
    return plan_for(Traffic(*KEY, policy, canary_id="run-1"), "v1")


def unmatched_rules() -> tuple[ClassRule, ...]:
    """As many rules as an endpoint may have, none of which matches the request."""
    return tuple(
        ClassRule(f"x-rule-{n}", (f"value-{n}", f"other-{n}"), "v2") for n in range(MAX_RULES)
    )


CASES: dict[str, tuple[TrafficPolicy | None, bool]] = {
    "no policy": (None, True),
    "10% canary, device id header": (TrafficPolicy(candidate="v2", percent=10), True),
    "10% canary, request id fallback": (TrafficPolicy(candidate="v2", percent=10), False),
    "8 unmatched rules + 10% canary": (
        TrafficPolicy(candidate="v2", percent=10, rules=unmatched_rules()),
        True,
    ),
    "a matching device-class rule": (
        TrafficPolicy(rules=(ClassRule("x-device-class", ("tv",), "v2"),)),
        True,
    ),
}


def per_request(policy: TrafficPolicy | None, with_device: bool) -> Callable[[], None]:
    """The device path's version choice and canary count for one request."""
    planned = None if policy is None else plan(policy)
    headers = device_headers(with_device)
    tallies = CanaryTallies()

    def request() -> None:
        selection = choose(planned, headers, "0f3c9b0e6a7d4c1e9a2b5d8f7e6c4b3a")
        if selection is not None:
            tallies.record(
                KEY,
                selection,
                latency_ms=2.4,
                outcome="ok",
                status=200,
                fuel=2_400_000,
                memory=None,
            )

    return request


def in_process(settings: Settings) -> list[InProcess]:
    rows = []
    for case, (policy, with_device) in CASES.items():
        timer = timeit.Timer(per_request(policy, with_device))
        best = min(timer.repeat(repeat=settings.rounds, number=settings.calls))
        rows.append(InProcess(case, round(best / settings.calls * 1e6, 3)))
        print(f"  {case:>34}: {rows[-1].us_per_request:6.2f} µs per request", flush=True)
    return rows


def over_http(scratch: Path, settings: Settings) -> list[OverHttp]:
    module = build_cached(SCRIPT)
    host = HostProcess(scratch / "host", extra_args=["--log-format", "json"]).start()
    rows = {case: OverHttp(case, [], [], []) for case in ("no policy", "10% canary")}
    try:
        for _ in range(2):
            host.cli("deploy", str(module), "--endpoint", "bench/home", "--no-activate")
        host.cli("rollback", "bench/home", "--to", "v1")
        url = f"{host.url}/bench/home"
        run_wrk(url, settings.connections, settings.warmup)
        for round_number in range(settings.http_rounds):
            # ABBA order, so a drift in the machine's other load favours neither case.
            order = list(rows.items())
            for case, row in order if round_number % 2 == 0 else reversed(order):
                if case == "no policy":
                    host.cli("abort", "bench/home", check=False)
                else:
                    host.cli("traffic", "bench/home", "--candidate", "v2", "--percent", "10")
                result = run_wrk(url, settings.connections, settings.seconds)
                row.requests_per_s.append(result.requests_per_s)
                row.p50_ms.append(result.p50_ms)
                row.p99_ms.append(result.p99_ms)
                print(
                    f"  {case:>12}: {result.requests_per_s:7.1f} req/s"
                    f"  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms",
                    flush=True,
                )
    finally:
        host.stop()
    return list(rows.values())


def markdown(document: dict[str, Any]) -> str:
    base = document["in_process"][0]["us_per_request"]
    lines = [
        f"Machine: {document['machine']}. Load average when the runs ended: "
        f"{document['load_average']} (other work shared the cores: read the differences, "
        "not the absolutes).",
        "",
        "In process, per request: `choose` on Werkzeug headers plus the canary tally "
        f"(best of {document['settings']['rounds']} rounds of "
        f"{document['settings']['calls']:,} calls):",
        "",
        "| traffic policy | µs per request | added to no policy |",
        "| --- | ---: | ---: |",
    ]
    for row in document["in_process"]:
        added = row["us_per_request"] - base
        lines.append(f"| {row['case']} | {row['us_per_request']:.2f} | {added:+.2f} |")
    lines += [
        "",
        "Over HTTP, one host, the same module as both versions, wrk one thread, "
        f"{document['settings']['connections']} connections, "
        f"{document['settings']['seconds']:g} s per run, rounds in ABBA order (median of "
        f"{document['settings']['http_rounds']}):",
        "",
        "| traffic policy | req/s | p50 ms | p99 ms | runs (req/s) |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for row in document["over_http"]:
        runs = ", ".join(f"{rate:.0f}" for rate in row["requests_per_s"])
        lines.append(
            f"| {row['case']} | {statistics.median(row['requests_per_s']):.1f} "
            f"| {statistics.median(row['p50_ms']):.2f} | {statistics.median(row['p99_ms']):.2f} "
            f"| {runs} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (about a minute)")
    args = parser.parse_args()
    settings = QUICK if args.quick else FULL
    print("in process:", flush=True)
    local = in_process(settings)
    print("over HTTP:", flush=True)
    remote = over_http(Path(tempfile.mkdtemp(prefix="scripthost-selection-")), settings)
    document = {
        "machine": machine(),
        "load_average": [round(load, 1) for load in os.getloadavg()],
        "settings": asdict(settings),
        "in_process": [asdict(row) for row in local],
        "over_http": [asdict(row) for row in remote],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "version_selection-quick" if args.quick else "version_selection"
    (RESULTS / f"{name}.json").write_text(json.dumps(document, indent=2) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown(document))
    print(markdown(document))


if __name__ == "__main__":
    main()
