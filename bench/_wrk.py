"""Running wrk (Debian's) and reading its report."""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass
class WrkResult:
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int


def run_wrk(url: str, connections: int, seconds: float, body_file: Path | None = None) -> WrkResult:
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "--timeout",
        "10s",
        url,
    ]
    with tempfile.TemporaryDirectory() as scratch:
        if body_file is not None:
            script = Path(scratch) / "post.lua"
            script.write_text(_post_script(body_file))
            command[1:1] = ["-s", str(script)]
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return _parse(output)


def _post_script(body_file: Path) -> str:
    return (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'local file = io.open("{body_file}", "rb")\n'
        "wrk.body = file:read('*a')\n"
        "file:close()\n"
    )


def _parse(output: str) -> WrkResult:
    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        return round(float(match.group(1)) * _UNITS[match.group(2)], 3) if match else float("nan")

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    total = re.search(r"(\d+) requests in", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = int(non_2xx.group(1)) if non_2xx else 0
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return WrkResult(
        requests_per_s=float(rate.group(1)) if rate else 0.0,
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        requests=int(total.group(1)) if total else 0,
        errors=errors,
    )
