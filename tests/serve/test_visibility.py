"""What each token can see: a team never another team's endpoints, traffic or failures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.hosts import (
    ADMIN_TOKEN,
    MUSIC_TOKEN,
    SCRAPE_TOKEN,
    TV_TOKEN,
    HostProcess,
    example_backends,
)

# Enough fuel failures in a row to open a breaker (five in ten seconds).
FAILURES_TO_TRIP = 6


@pytest.fixture(scope="module")
def host(
    tmp_path_factory: pytest.TempPathFactory, example_backend: str, built: dict[str, Path]
) -> Iterator[HostProcess]:
    served = HostProcess(
        tmp_path_factory.mktemp("visibility") / "host", backends=example_backends(example_backend)
    ).start()
    served.cli("deploy", str(built["v2"]), "--endpoint", "tv/home", token=TV_TOKEN)
    served.cli("deploy", str(built["v2"]), "--endpoint", "music/home", token=MUSIC_TOKEN)
    served.cli("deploy", str(built["loop"]), "--endpoint", "music/loop", token=MUSIC_TOKEN)
    with served.device() as device:
        for path in ("/tv/home", "/music/home"):
            device.get(path).raise_for_status()
        for _ in range(FAILURES_TO_TRIP):
            device.get("/music/loop")
    yield served
    served.stop()


def series_namespaces(text: str) -> set[str]:
    return {
        line.split('namespace="', 1)[1].split('"', 1)[0]
        for line in text.splitlines()
        if 'namespace="' in line and not line.startswith("#")
    }


@pytest.mark.parametrize("token", [None, "not-a-token-anyone-was-given"])
def test_metrics_need_a_token(host: HostProcess, token: str | None) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{host.url}/metrics", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_a_team_scrapes_only_its_own_namespaces_series(host: HostProcess) -> None:
    text = host.metrics_text(TV_TOKEN)
    assert series_namespaces(text) == {"tv"}
    assert "scripthost_requests_total" in text
    assert "music" not in text
    # Host-wide series name no namespace, so they are not a team's to read.
    assert "scripthost_sandbox_queue_depth" not in text


@pytest.mark.parametrize("token", [ADMIN_TOKEN, SCRAPE_TOKEN])
def test_admin_and_scrape_tokens_read_every_series(host: HostProcess, token: str) -> None:
    text = host.metrics_text(token)
    assert series_namespaces(text) == {"tv", "music"}
    assert "scripthost_sandbox_queue_depth" in text


def test_a_scrape_token_reads_metrics_and_nothing_else(host: HostProcess) -> None:
    with host.admin(SCRAPE_TOKEN) as scraper:
        listed = scraper.get("/endpoints")
        foreign = scraper.get("/endpoints/tv/home")
        change = scraper.put("/endpoints/tv/home/-/enabled", json={"enabled": False})
    assert listed.json()["endpoints"] == []
    assert foreign.status_code == 403
    assert change.status_code == 403


def test_host_state_names_a_teams_own_breakers_only(host: HostProcess) -> None:
    views = {}
    for token in (ADMIN_TOKEN, TV_TOKEN, MUSIC_TOKEN):
        with host.admin(token) as client:
            views[token] = client.get("/host").raise_for_status().json()
    assert views[ADMIN_TOKEN]["open_breakers"] == ["music/loop"]
    assert views[MUSIC_TOKEN]["open_breakers"] == ["music/loop"]
    assert views[TV_TOKEN]["open_breakers"] == []
    endpoints = {token: view["endpoints"] for token, view in views.items()}
    assert endpoints == {ADMIN_TOKEN: 3, MUSIC_TOKEN: 2, TV_TOKEN: 1}


TEAM_READS = [
    "/endpoints",
    "/endpoints/tv/home",
    "/endpoints/tv/home/-/versions",
    "/endpoints/tv/home/-/quotas",
    "/namespaces/tv",
    "/namespaces/tv/-/quotas",
    "/quotas",
    "/audit",
    "/stats",
    "/host",
    "/whoami",
]


def test_no_management_read_shows_a_team_another_teams_namespace(host: HostProcess) -> None:
    with host.admin(TV_TOKEN) as tv:
        seen = {path: tv.get(path) for path in TEAM_READS}
    with host.admin(ADMIN_TOKEN) as admin:
        everything = " ".join(admin.get(path).text for path in ("/audit", "/stats", "/host"))
    assert {path: response.status_code for path, response in seen.items()} == dict.fromkeys(
        TEAM_READS, 200
    )
    assert {path for path, response in seen.items() if "music" in response.text} == set()
    # What the team was spared is there for an admin.
    assert "music/loop" in everything
    assert '"namespace":"music"' in everything


def test_the_api_docs_load_from_the_host_alone(host: HostProcess, page: Page) -> None:
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{host.url}/admin/v1/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("scripthost management API")
    expect(page.locator(".opblock").first).to_be_visible()
    assert requested
    assert [url for url in requested if not url.startswith(f"{host.url}/")] == []
