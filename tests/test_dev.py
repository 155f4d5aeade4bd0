"""`scripthost dev`: a local host that serves each saved edit, and keeps serving through a
broken one."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.hosts import SCRIPTHOST
from tests.support.projects import Dev, dev_serving


@pytest.fixture
def project(tmp_path: Path) -> Path:
    subprocess.run([SCRIPTHOST, "init", "card", "--lang", "js"], cwd=tmp_path, check=True)
    return tmp_path / "card"


@pytest.fixture
def dev(project: Path, example_backend: str) -> Iterator[Dev]:
    with dev_serving(project / "card.js", "tv/card", example_backend) as running:
        yield running


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
