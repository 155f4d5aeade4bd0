"""Server processes for benchmarks: started, waited for, sampled for CPU and RSS, stopped."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from tests.support.servers import wait_until_answers


@dataclass
class Usage:
    cpu_percent: float = 0.0
    rss_mib: float = 0.0


@dataclass
class Server:
    name: str
    command: Sequence[str]
    ready_url: str
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> Server:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(self.command, stdout=log, stderr=subprocess.STDOUT)
        wait_until_answers(self.ready_url, timeout)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.process = None


class Sampler(threading.Thread):
    """CPU (% of one core, summed over the process tree) and peak RSS while a load runs."""

    def __init__(self, process: psutil.Process, seconds: float) -> None:
        super().__init__(daemon=True)
        self._process = process
        self._seconds = seconds
        self.usage = Usage()

    def run(self) -> None:
        tree = [self._process, *self._process.children(recursive=True)]
        started = time.monotonic()
        cpu_before = sum(_cpu_seconds(p) for p in tree)
        peak = 0.0
        while time.monotonic() - started < self._seconds:
            peak = max(peak, sum(_rss(p) for p in tree))
            time.sleep(0.25)
        elapsed = time.monotonic() - started
        cpu = sum(_cpu_seconds(p) for p in tree) - cpu_before
        self.usage = Usage(round(100 * cpu / elapsed, 1), round(peak / 2**20, 1))


def _cpu_seconds(process: psutil.Process) -> float:
    try:
        times = process.cpu_times()
        return float(times.user + times.system)
    except psutil.Error:
        return 0.0


def _rss(process: psutil.Process) -> float:
    try:
        return float(process.memory_info().rss)
    except psutil.Error:
        return 0.0
