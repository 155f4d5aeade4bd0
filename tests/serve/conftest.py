"""Hosts served by Hypercorn on loopback, and a real browser to look at them."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.support.hosts import HostProcess, example_backends

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture
def host(tmp_path: Path, example_backend: str) -> Iterator[HostProcess]:
    served = HostProcess(tmp_path / "host", backends=example_backends(example_backend)).start()
    yield served
    served.stop()


@pytest.fixture
def page() -> Iterator[Page]:
    """A page in Debian's Chromium, driven by Playwright."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()
