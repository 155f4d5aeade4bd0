"""The service catalogue managed at runtime: two hosts on one registry, no restarts.

Host A takes every change (API or CLI); host B, sharing A's SQLite registry,
must serve it within a refresh. B also has a read-only service of its own,
given with `--backend` at its start.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.counting import received
from tests.support.hosts import TV_TOKEN, HostProcess
from tests.support.polling import wait_until

Hosts = tuple[HostProcess, HostProcess]


@pytest.fixture(scope="module")
def hosts(
    tmp_path_factory: pytest.TempPathFactory, example_backend: str, built: dict[str, Path]
) -> Iterator[Hosts]:
    root = tmp_path_factory.mktemp("managed-catalogue")
    registry = f"sqlite://{root / 'registry.sqlite3'}"
    a = HostProcess(root / "a", registry_url=registry).start()
    b = HostProcess(
        root / "b", registry_url=registry, backends=[f"fixed={example_backend}/profile"]
    ).start()
    a.cli("deploy", str(built["fetch"]), "--endpoint", "tv/fetch")
    eventually(lambda: b.status("/tv/fetch") != 404)
    yield a, b
    for host in (a, b):
        host.stop()


def fetch(host: HostProcess, service: str, path: str) -> dict[str, Any]:
    with host.device() as device:
        params = {"service": service, "path": path}
        response = device.get("/tv/fetch", params=params)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()["answers"][0]
    return answer


def eventually(check: Callable[[], bool], limit: float = 5.0) -> None:
    """Poll until `check()` holds; fail after `limit` seconds (a refresh is 0.2 s here)."""
    wait_until(
        check,
        lambda held: held,
        limit=limit,
        interval=0.05,
        failure=lambda _: "the change never reached the other host",
    )


def test_a_service_added_on_one_host_reaches_the_other_without_a_restart(
    hosts: Hosts, example_backend: str
) -> None:
    a, b = hosts
    assert fetch(b, "titles", "/titles?ids=1") == {"error": "unknown-service"}

    a.cli(
        "service", "titles", "--url", f"{example_backend}/catalog", "--allow", "tv",
        "--cache-ttl", "600",
    )  # fmt: skip

    eventually(lambda: fetch(b, "titles", "/titles?ids=1").get("status") == 200)
    again = fetch(b, "titles", "/titles?ids=1")
    assert again["cache"] == "hit"
    assert json.loads(again["body"])["titles"]["1"]["name"] == "Arrival"


def test_allow_lists_and_deletions_reach_the_other_host(hosts: Hosts, example_backend: str) -> None:
    a, b = hosts
    with a.admin() as admin:
        admin.put("/services/lists", json={"url": f"{example_backend}/catalog"}).raise_for_status()
        eventually(lambda: fetch(b, "lists", "/lists?names=top").get("status") == 200)

        refused = admin.patch("/services/lists", json={"max_response_bytes": 10**9})
        assert (refused.status_code, refused.json()["error"]) == (400, "bad_request")
        admin.patch("/services/lists", json={"allow": ["music"]}).raise_for_status()
        eventually(lambda: fetch(b, "lists", "/lists?names=top") == {"error": "not-allowed"})

        admin.delete("/services/lists").raise_for_status()
        eventually(lambda: fetch(b, "lists", "/lists?names=top") == {"error": "unknown-service"})


def test_a_changed_spec_is_applied_and_its_cached_answers_dropped(
    hosts: Hosts, example_backend: str
) -> None:
    a, b = hosts
    path = "/echo?managed=1"
    with a.admin() as admin:
        spec = {"url": example_backend, "cache": {"ttl_s": 600}}
        admin.put("/services/echo", json=spec).raise_for_status()
        eventually(lambda: fetch(b, "echo", path).get("cache") == "miss")
        assert fetch(b, "echo", path)["cache"] == "hit"

        admin.patch("/services/echo", json={"headers": {"x-api-key": "k2"}}).raise_for_status()
        eventually(lambda: sent_headers(fetch(b, "echo", path)).get("x-api-key") == "k2")
    assert received(example_backend, path) == 2


def sent_headers(answer: dict[str, Any]) -> dict[str, str]:
    """The headers the example backend's echo says it received."""
    headers: dict[str, str] = json.loads(answer["body"])["headers"]
    return headers


def test_every_change_is_audited_without_header_values(hosts: Hosts, example_backend: str) -> None:
    a, _ = hosts
    with a.admin() as admin:
        spec = {"url": example_backend, "headers": {"x-api-key": "top-secret"}}
        admin.put("/services/audited", json=spec).raise_for_status()
        shown = admin.get("/services/audited").json()
        events = admin.get("/audit", params={"limit": 5}).json()["events"]

    assert shown["spec"]["headers"] == {"x-api-key": "<redacted>"}
    created = next(e for e in events if e["details"].get("service") == "audited")
    assert (created["action"], created["actor"]) == ("service.created", "api-team")
    assert created["details"]["spec"]["headers"] == {"x-api-key": "<redacted>"}
    assert "top-secret" not in json.dumps(events)


def test_only_admins_see_or_change_the_catalogue(hosts: Hosts, example_backend: str) -> None:
    a, _ = hosts
    with a.admin(TV_TOKEN) as team:
        assert team.get("/services").status_code == 403
        refused = team.put("/services/mine", json={"url": example_backend})
        assert (refused.status_code, refused.json()["error"]) == (403, "forbidden")
        team_events = team.get("/audit").json()["events"]
    assert not [e for e in team_events if e["action"].startswith("service.")]
    with a.admin() as admin:
        assert admin.get("/services/mine").status_code == 404


def test_a_hosts_static_services_are_listed_and_read_only(hosts: Hosts) -> None:
    _, b = hosts
    with b.admin() as admin:
        listed = {s["name"]: s["source"] for s in admin.get("/services").json()["services"]}
        refused = admin.put("/services/fixed", json={"url": "http://127.0.0.1:1/x"})
        deleted = admin.delete("/services/fixed")
    assert listed["fixed"] == "static"
    assert (refused.status_code, refused.json()["error"]) == (409, "static_service")
    assert (deleted.status_code, deleted.json()["error"]) == (409, "static_service")
    assert fetch(b, "fixed", "/users/42")["status"] == 200


@pytest.mark.parametrize(
    ("name", "body", "error"),
    [
        ("Bad", {"url": "http://127.0.0.1:1"}, "bad_service_name"),
        ("ok", {"url": "ftp://127.0.0.1/x"}, "bad_request"),
        ("ok", {"url": "http://127.0.0.1:1/x?key=1"}, "bad_request"),
        ("ok", {"url": "http://127.0.0.1:1", "timeout_ms": 0}, "bad_request"),
        ("ok", {"url": "http://127.0.0.1:1", "allow": ["../x"]}, "bad_request"),
        ("ok", {"url": "http://127.0.0.1:1", "headers": {"x-k": "a\nb"}}, "bad_request"),
        ("ok", {"url": "http://127.0.0.1:1", "cache": {"ttl_s": -1}}, "bad_request"),
        ("ok", {"url": "http://127.0.0.1:1", "cache": {"vary": ["a b"]}}, "bad_request"),
        ("ok", {"url": "http://127.0.0.1:1", "extra": 1}, "bad_request"),
    ],
    ids=[
        "name",
        "scheme",
        "query",
        "timeout",
        "allow-rule",
        "header-value",
        "ttl",
        "vary",
        "unknown-field",
    ],
)
def test_bad_specs_are_refused_and_nothing_is_stored(
    hosts: Hosts, name: str, body: dict[str, Any], error: str
) -> None:
    a, _ = hosts
    with a.admin() as admin:
        before = admin.get("/audit", params={"limit": 1}).json()["events"]
        refused = admin.put(f"/services/{name}", json=body)
        after = admin.get("/audit", params={"limit": 1}).json()["events"]
    assert (refused.status_code, refused.json()["error"]) == (400, error)
    assert after == before


def test_the_cli_lists_and_deletes(hosts: Hosts, example_backend: str) -> None:
    a, _ = hosts
    a.cli("service", "listed", "--url", example_backend, "--cache-from-headers")
    listing = a.cli("services").stdout
    assert any(
        line.split()[:2] == ["listed", "managed"] and "cache-control" in line
        for line in listing.splitlines()
    )
    a.cli("service", "listed", "--delete")
    missing = a.cli("service", "listed", check=False)
    assert missing.returncode == 1
    assert "no service 'listed'" in missing.stderr
    refused = a.cli("service", "other", "--url", example_backend, token=TV_TOKEN, check=False)
    assert "403 forbidden" in refused.stderr
