"""The admin console in a real browser: Debian's Chromium, driven by Playwright."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, Route, expect

from host.build import REPO_ROOT
from tests.support.hosts import ADMIN_TOKEN, TV_TOKEN, HostProcess, example_backends
from tests.support.scripts import EXAMPLE_JS, HOME_V2_JS, MULTI_JS

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


def log_in(page: Page, host: HostProcess, token: str, who: str) -> None:
    page.goto(f"{host.url}/console/")
    page.fill("#token", token)
    page.click("button[type=submit]")
    expect(page.locator("#who")).to_have_text(who)


def test_an_admin_edits_quotas_then_sees_the_failure_and_the_audit_log(
    console_host: HostProcess, page: Page, built: dict[str, Path]
) -> None:
    log_in(page, console_host, ADMIN_TOKEN, "api-team (admin)")
    page.get_by_test_id("endpoint-tv/home").click()
    expect(page.locator("#quota-mode")).to_have_text("overrides of this endpoint (admin)")
    page.fill("#quotas input[name=response_bytes]", "16")
    page.click("#quota-save")
    expect(page.locator("#quota-result")).to_contain_text("Saved")
    with console_host.admin() as admin:
        quotas = admin.get("/endpoints/tv/home/-/quotas").json()
    assert quotas["overrides"] == {"response_bytes": 16}

    failed = httpx.get(
        f"{console_host.url}/tv/home",
        params={"user": "42"},
        headers={"x-request-id": "console-too-big"},
        timeout=10,
    )
    assert failed.json()["error"] == "output_exceeded"
    failure = page.get_by_test_id("failure-console-too-big")
    expect(failure).to_contain_text("output_exceeded", timeout=10_000)
    # The script (the second edition) ran to its end before its answer was
    # refused: the host call it made is listed.
    expect(failure).to_contain_text("Host calls (1)")
    expect(failure.locator("details.stack")).to_have_count(0)
    failure.locator("details.calls summary").click()
    expect(failure.locator("details.calls .trace")).to_contain_text("config.get greeting -> none")

    # A script that throws: its stack is shown apart from its host calls, and
    # the table's refresh that brings its row in keeps the opened calls open.
    console_host.cli("deploy", str(built["throw"]), "--endpoint", "tv/boom")
    thrown = httpx.get(
        f"{console_host.url}/tv/boom", headers={"x-request-id": "console-throw"}, timeout=10
    )
    assert thrown.status_code == 500
    boom = page.get_by_test_id("failure-console-throw")
    expect(boom.locator("details.stack summary")).to_have_text("Stack trace", timeout=10_000)
    expect(boom.locator("details.calls summary")).to_have_text("Host calls (0)")
    boom.locator("details.stack summary").click()
    expect(boom.locator("details.stack .trace")).to_contain_text("kaboom")
    expect(failure.locator("details.calls")).to_have_attribute("open", "")
    expect(failure.locator("details.calls .trace")).to_be_visible()

    audit = page.locator("#audit")
    expect(audit).to_contain_text("endpoint.quotas_set")
    expect(audit.locator("li", has_text="endpoint.quotas_set")).to_contain_text("by api-team")


def test_the_diff_shows_every_file_that_changed(
    console_host: HostProcess, page: Page, tmp_path: Path
) -> None:
    work = tmp_path / "multi"
    shutil.copytree(MULTI_JS.parent, work)
    console_host.cli("deploy", str(work / MULTI_JS.name), "--endpoint", "tv/greet")
    helper = work / "lib" / "format.js"
    helper.write_text(helper.read_text().replace("Hello, ${name}!", "Hi ${name}"))
    console_host.cli("deploy", str(work / MULTI_JS.name), "--endpoint", "tv/greet")

    log_in(page, console_host, TV_TOKEN, "tv-team")
    show_versions_of(page, "tv/greet")
    page.click("#diff-button")
    # Only the helper changed: the diff names it, and not the entry file.
    expect(page.locator("#diff .file")).to_have_text(["lib/format.js"])
    expect(page.locator("#diff .del")).to_contain_text(["Hello, ${name}!"])
    expect(page.locator("#diff .add")).to_contain_text(["Hi ${name}"])


def test_a_team_reads_quotas_but_cannot_edit_them(console_host: HostProcess, page: Page) -> None:
    log_in(page, console_host, TV_TOKEN, "tv-team")
    page.get_by_test_id("endpoint-tv/home").click()
    expect(page.locator("#quota-mode")).to_have_text("read-only")
    expect(page.locator("#quotas tbody tr").first).to_be_visible()
    expect(page.locator("#quotas input")).to_have_count(0)
    expect(page.locator("#quota-save")).to_be_hidden()


def test_the_console_fetches_nothing_from_anywhere_else(
    console_host: HostProcess, page: Page
) -> None:
    fetched: list[str] = []

    def record(route: Route) -> None:
        url = route.request.url
        fetched.append(url)
        if url.startswith(f"{console_host.url}/"):
            route.continue_()
        else:
            route.abort()

    page.route("**/*", record)
    # Every view: endpoints, a detail with versions and quotas, a diff, a refresh.
    log_in(page, console_host, ADMIN_TOKEN, "api-team (admin)")
    show_versions_of(page, "tv/home")
    page.click("#diff-button")
    expect(page.locator("#diff .add").first).to_be_visible()
    with page.expect_request(re.compile(r"/admin/v1/stats$")):
        pass  # the next periodic refresh
    paths = {url.removeprefix(console_host.url).split("?")[0] for url in fetched}
    assert {"/console/", "/console/console.css", "/console/console.js", "/admin/v1/stats"} <= paths
    assert [url for url in fetched if not url.startswith(f"{console_host.url}/")] == []


def editions_served(host: HostProcess, devices: int) -> set[str]:
    """What each of `devices` devices gets: the second edition says so, the first does not."""
    with host.device() as device:
        answers = [
            device.get("/tv/home", params={"user": "42"}, headers={"x-device-id": f"d{n}"})
            for n in range(devices)
        ]
    assert {answer.status_code for answer in answers} == {200}
    return {answer.json().get("edition", "v1") for answer in answers}


def test_a_team_runs_a_canary_from_start_to_promote(console_host: HostProcess, page: Page) -> None:
    console_host.cli("rollback", "tv/home", "--to", "v1")
    log_in(page, console_host, TV_TOKEN, "tv-team")
    page.get_by_test_id("endpoint-tv/home").click()
    summary = page.get_by_test_id("traffic-summary")
    expect(summary).to_contain_text("v1 for every device, no canary")
    expect(page.locator("#canary")).to_be_hidden()

    page.select_option("#canary-version", "v2")
    page.fill("#canary-percent", "50")
    page.click("#canary-form button[type=submit]")
    expect(summary).to_contain_text("v1 for 50%, candidate v2 for 50% of devices")
    expect(page.get_by_test_id("active-tv/home")).to_have_text("v1 canary v2 50%")
    assert editions_served(console_host, 40) == {"v1", "v2"}

    # The live comparison: both versions' requests, counted by the analysis, side by side.
    expect(page.get_by_test_id("canary-stable-Requests")).to_have_text(
        re.compile("^[1-9]"), timeout=15_000
    )
    expect(page.get_by_test_id("canary-candidate-Requests")).to_have_text(re.compile("^[1-9]"))
    expect(page.locator("#canary-stable")).to_have_text("stable v1")
    expect(page.locator("#canary-candidate")).to_have_text("candidate v2")
    # 40 requests are fewer than the default minimum sample: the verdict is to wait.
    expect(page.get_by_test_id("canary-verdict")).to_contain_text("hold (collecting)")
    expect(page.locator("#canary-reasons")).to_contain_text("of 100 requests")

    page.click("#canary-promote")
    expect(summary).to_contain_text("v2 for every device, no canary")
    expect(page.get_by_test_id("active-tv/home")).to_have_text("v2")
    expect(page.locator("#canary")).to_be_hidden()
    expect(page.get_by_test_id("last-verdict")).to_contain_text(
        "The analysis' last verdict on v2 (against v1): hold (collecting)"
    )
    expect(page.locator("#versions")).to_contain_text("v2 active")
    assert editions_served(console_host, 40) == {"v2"}
    expect(page.locator("#audit li", has_text="canary.promoted")).to_contain_text("by tv-team")


def show_versions_of(page: Page, endpoint: str) -> None:
    """Open an endpoint's detail and wait for its versions: the diff button does nothing
    until they have arrived (a click before then was lost under load)."""
    page.get_by_test_id(f"endpoint-{endpoint}").click()
    expect(page.locator("#diff-to option")).not_to_have_count(0)
