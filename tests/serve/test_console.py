"""The admin console in a real browser: Debian's Chromium, driven by Playwright."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from host.build import REPO_ROOT
from tests.support.hosts import TV_TOKEN, HostProcess, example_backends
from tests.support.scripts import EXAMPLE_JS, HOME_V2_JS

ARTIFACTS = REPO_ROOT / ".build" / "test-artifacts"


@pytest.fixture
def console_host(
    tmp_path: Path, example_backend: str, built: dict[str, Path]
) -> Iterator[HostProcess]:
    served = HostProcess(tmp_path / "host", backends=example_backends(example_backend)).start()
    # Deployed from source (built already, in `built`), so versions can be diffed.
    served.cli("deploy", str(EXAMPLE_JS), "--endpoint", "tv/home", "-m", "home screen")
    served.cli("deploy", str(HOME_V2_JS), "--endpoint", "tv/home", "-m", "second edition")
    yield served
    served.stop()


def device_get(host: HostProcess) -> httpx.Response:
    return httpx.get(f"{host.url}/tv/home", params={"user": "42"}, timeout=10)


def test_the_console_shows_traffic_rolls_back_and_switches_off(
    console_host: HostProcess, page: Page
) -> None:
    page.goto(f"{console_host.url}/console/")
    page.fill("#token", TV_TOKEN)
    page.click("button[type=submit]")
    expect(page.locator("#who")).to_have_text("tv-team")

    for _ in range(5):
        assert device_get(console_host).json()["edition"] == "v2"
    row = page.get_by_test_id("endpoint-tv/home")
    expect(row).to_be_visible()
    # Traffic appears: a request rate with a non-zero digit in it.
    expect(page.get_by_test_id("rps-tv/home")).to_have_text(re.compile("[1-9]"), timeout=10_000)

    row.click()
    page.get_by_test_id("activate-v1").click()
    expect(page.locator("#versions")).to_contain_text("v1 active")
    assert device_get(console_host).json()["greeting"] == "Hi, Ada!"

    page.click("#diff-button")
    expect(page.locator("#diff .add").first).to_be_visible()

    page.get_by_test_id("switch-tv/home").click()
    expect(page.get_by_test_id("endpoint-tv/home")).to_contain_text("disabled")
    switched_off = device_get(console_host)
    assert switched_off.status_code == 503
    assert switched_off.json()["error"] == "disabled"

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console.png"), full_page=True)
