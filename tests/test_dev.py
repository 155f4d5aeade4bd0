"""`scripthost dev`: a local host that serves each saved edit, and keeps serving through a
broken one."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.hosts import SCRIPTHOST
from tests.support.servers import free_port

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


@pytest.fixture
def project(tmp_path: Path) -> Path:
    subprocess.run([SCRIPTHOST, "init", "card", "--lang", "js"], cwd=tmp_path, check=True)
    return tmp_path / "card"


@pytest.fixture
def dev(project: Path, example_backend: str) -> Iterator[Dev]:
    port = free_port()
    command = [SCRIPTHOST, "dev", str(project / "card.js"), "--endpoint", "tv/card"]
    command += ["--port", str(port), f"--backend=catalog={example_backend}/catalog"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    running = Dev(process, f"http://127.0.0.1:{port}")
    yield running
    process.send_signal(signal.SIGINT)
    process.wait(timeout=60)


def test_an_edit_is_served_and_a_broken_one_keeps_the_last_good_version(
    dev: Dev, project: Path
) -> None:
    dev.wait_for_line("serving ")
    assert dev.greeting() == "Hello"

    script = project / "card.js"
    good = script.read_text()
    script.write_text(good.replace("?? 'Hello'", "?? 'Howdy'"))
    assert "(active)" in dev.wait_for_line("deployed in")
    assert dev.greeting() == "Howdy"

    script.write_text(good.replace("export function handle", "export function handle("))
    failed = dev.wait_for_line("deployed in", "not deployed in")
    assert failed.startswith("not deployed in")
    assert "build failed" in failed
    assert dev.greeting() == "Howdy"

    script.write_text(good)
    dev.wait_for_line("deployed in")
    assert dev.greeting() == "Hello"
    with httpx.Client(base_url=dev.url) as client:
        assert client.get("/tv/card", params={"id": "1"}).json()["title"]["name"] == "Arrival"


def test_stopping_dev_stops_its_host(dev: Dev) -> None:
    dev.wait_for_line("serving ")
    dev.process.send_signal(signal.SIGINT)
    assert dev.process.wait(timeout=60) == 0
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{dev.url}/healthz", timeout=2)
