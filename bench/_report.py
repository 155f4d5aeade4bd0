"""The comparison as a Markdown table and a plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def markdown(document: dict[str, Any]) -> str:
    rows = document["rows"]
    lines = [
        f"Machine: {document['machine']}. wrk, one thread, fixed connections, "
        f"{document['settings']['seconds']:g} s per run after a warm-up; CPU is % of one core "
        "summed over the server's processes.",
        "",
    ]
    for workload in dict.fromkeys(row["workload"] for row in rows):
        for connections in dict.fromkeys(row["connections"] for row in rows):
            group = [
                r for r in rows if r["workload"] == workload and r["connections"] == connections
            ]
            if not group:
                continue
            best = max(r["requests_per_s"] for r in group) or 1.0
            node = next((r["requests_per_s"] for r in group if r["system"] == "node"), None)
            quart = next(
                (r["requests_per_s"] for r in group if r["system"] == "quart+hypercorn"), None
            )
            native = next(
                (r["requests_per_s"] for r in group if r["system"] == "wasmtime serve"), None
            )
            lines += [
                f"**{workload}**, {connections} connections",
                "",
                "| system | req/s | p50 ms | p99 ms | errors | CPU % | CPU ms/req | RSS MiB "
                "| vs best | vs node | vs quart | vs wasmtime serve |",
                "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
                "| ---: |",
            ]
            for r in group:
                rate = r["requests_per_s"]
                cpu_ms = r["cpu_percent"] * 10 / rate if rate else 0.0
                lines.append(
                    f"| {r['system']} | {rate:.0f} | {r['p50_ms']:.2f} | "
                    f"{r['p99_ms']:.2f} | {r['errors']} | {r['cpu_percent']:.0f} | {cpu_ms:.2f} "
                    f"| {r['rss_mib']:.0f} | {rate / best:.2f} | {_ratio(rate, node)} | "
                    f"{_ratio(rate, quart)} | {_ratio(rate, native)} |"
                )
            lines.append("")
    cold = document["cold_start"]
    compiled = cold.get("with_compile_s", "not measured (quick run)")
    lines += [
        f"**Cold start** (deploy command to first 200): with a compile {compiled} s, "
        f"with the artifact already compiled {cold['cached_artifact_s']} s.",
        "",
        "| endpoints deployed | route table load at start | RSS MiB | req/s | p99 ms |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    for s in document["scale"]:
        lines.append(
            f"| {s['endpoints']} | {s['startup_route_load_s']} s | {s['rss_mib']} | "
            f"{s['requests_per_s']:.0f} | {s['p99_ms']} |"
        )
    lines.append("")
    return "\n".join(lines)


def _ratio(value: float, other: float | None) -> str:
    return f"{value / other:.2f}" if other else "n/a"


def plot(document: dict[str, Any], path: Path) -> None:
    rows = document["rows"]
    connections = max(r["connections"] for r in rows)
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    figure, axes = plt.subplots(2, len(workloads), figsize=(5 * len(workloads), 7))
    for column, workload in enumerate(workloads):
        group = [r for r in rows if r["workload"] == workload and r["connections"] == connections]
        names = [r["system"] for r in group]
        colours = ["#2563eb" if n.startswith("scripthost") else "#9ca3af" for n in names]
        axes[0][column].barh(names, [r["requests_per_s"] for r in group], color=colours)
        axes[0][column].set_xscale("log")
        axes[0][column].set_title(f"{workload}: requests/s, log scale ({connections} conns)")
        axes[1][column].barh(names, [r["p99_ms"] for r in group], color=colours)
        axes[1][column].set_xscale("log")
        axes[1][column].set_title(f"{workload}: p99 latency, ms, log scale")
        for axis in (axes[0][column], axes[1][column]):
            axis.invert_yaxis()
            axis.tick_params(labelsize=8)
    figure.suptitle(f"scripthost side by side — {document['machine']}", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
