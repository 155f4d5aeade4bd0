"""Script projects as an author makes them: `scripthost` run in a folder, JUnit reports read."""

from __future__ import annotations

import signal
import subprocess
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.hosts import SCRIPTHOST
from tests.support.servers import free_port


def scripthost(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([SCRIPTHOST, *args], cwd=cwd, capture_output=True, text=True, check=False)


def suites(report: Path) -> dict[str, tuple[int, int]]:
    """Each suite of a JUnit report: (tests, failures)."""
    root = ElementTree.parse(report).getroot()
    assert root.tag == "testsuites"
    return {
        suite.get("name", ""): (int(suite.get("tests", "0")), int(suite.get("failures", "0")))
        for suite in root
    }


PATIENCE_S = 120.0  # keeps a broken test from hanging; no speed expectation


class Dev:
    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url
        self.lines: list[str] = []

    def wait_for_line(self, *starts: str) -> str:
        """The next line of dev's own that starts with one of `starts` (the host's log
        lines are interleaved)."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + PATIENCE_S
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            if line.startswith(starts):
                return line
        raise AssertionError(f"no line starting {starts!r} in:\n" + "\n".join(self.lines))

    def greeting(self) -> str:
        response = httpx.get(f"{self.url}/tv/card", params={"id": "2"}, timeout=10)
        assert response.status_code == 200, response.text
        greeting: str = response.json()["greeting"]
        return greeting


@contextmanager
def dev_serving(script: Path, endpoint: str, example_backend: str) -> Iterator[Dev]:
    """`scripthost dev SCRIPT` with the example catalog, stopped (SIGINT) at the end."""
    port = free_port()
    command = [SCRIPTHOST, "dev", str(script), "--endpoint", endpoint]
    command += ["--port", str(port), f"--backend=catalog={example_backend}/catalog"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        yield Dev(process, f"http://127.0.0.1:{port}")
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
