"""De-duplicated and cached backend calls over HTTP, counted by the real backends that got them.

Each test asks for paths of its own (a title id or an `n` parameter nobody
else uses), so the example backend's counts are this test's alone.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import servers
from tests.support.counting import received
from tests.support.hosts import TV_TOKEN, HostProcess

_unique = itertools.count(1000)


@pytest.fixture(scope="module")
def flaky_backend() -> Iterator[servers.BackendProcess]:
    """An example backend of this module's own: a test stops it."""
    with servers.example_backend_process() as backend:
        yield backend


@pytest.fixture(scope="module")
def host(
    tmp_path_factory: pytest.TempPathFactory,
    example_backend: str,
    flaky_backend: servers.BackendProcess,
    built: dict[str, Path],
) -> Iterator[HostProcess]:
    data_dir = tmp_path_factory.mktemp("data-access")
    catalogue = data_dir / "catalogue.json"
    catalogue.write_text(
        json.dumps(
            {
                "services": [
                    {"name": "plain", "url": example_backend},
                    {"name": "cached", "url": example_backend, "cache": {"ttl_s": 600}},
                    {
                        "name": "flaky",
                        "url": flaky_backend.base,
                        "cache": {"ttl_s": 0, "stale_if_error_s": 600},
                    },
                ]
            }
        )
    )
    served = HostProcess(data_dir / "host", extra_args=["--catalogue", str(catalogue)]).start()
    served.cli("deploy", str(built["fetch"]), "--endpoint", "tv/fetch")
    yield served
    served.stop()


def fetch(host: HostProcess, service: str, path: str, **options: str) -> list[dict[str, Any]]:
    with host.device() as device:
        response = device.get("/tv/fetch", params={"service": service, "path": path, **options})
    assert response.status_code == 200, response.text
    answers: list[dict[str, Any]] = response.json()["answers"]
    return answers


def a_path() -> str:
    return f"/echo?n={next(_unique)}"


@pytest.mark.parametrize("batch", ["0", "1"], ids=["one-after-another", "in-one-batch"])
def test_the_same_call_twice_in_a_request_costs_one_backend_call(
    host: HostProcess, example_backend: str, batch: str
) -> None:
    path = a_path()
    answers = fetch(host, "plain", path, times="2", batch=batch)

    assert received(example_backend, path) == 1
    assert [a["status"] for a in answers] == [200, 200]
    assert answers[0]["body"] == answers[1]["body"]


def test_the_shared_call_shows_in_the_abi_trace(host: HostProcess, example_backend: str) -> None:
    path = a_path()
    with host.device() as device:
        params = {"service": "plain", "path": path, "times": "2", "fail": "1"}
        assert device.get("/tv/fetch", params=params).status_code == 500

    assert received(example_backend, path) == 1
    with host.admin() as admin:
        failures = admin.get("/stats").raise_for_status().json()["recent_failures"]
    trace = next(f["trace"] for f in failures if any(path in t["detail"] for t in f["trace"]))
    first, second = (entry["result"] for entry in trace)
    assert first.startswith("200 (")
    assert second == first + ", shared with an identical call of this request"


def test_a_second_request_within_the_ttl_costs_no_backend_call(
    host: HostProcess, example_backend: str
) -> None:
    path = a_path()
    [first] = fetch(host, "cached", path)
    [second] = fetch(host, "cached", path)

    assert received(example_backend, path) == 1
    assert (first["cache"], second["cache"]) == ("miss", "hit")
    assert second["body"] == first["body"]


@pytest.mark.parametrize(
    ("query", "options", "flag"),
    [
        # The service marks its answer private: asked through the cache, never kept.
        ("&cache_control=private,max-age=600", {}, "miss"),
        ("&set_cookie=session=1", {}, "miss"),
        # The script sends credentials of its own: the cache is not even asked.
        ("", {"authorization": "Bearer a-user-token"}, None),
    ],
    ids=["private", "sets-a-cookie", "carries-credentials"],
)
def test_a_private_answer_is_never_cached(
    host: HostProcess, example_backend: str, query: str, options: dict[str, str], flag: str | None
) -> None:
    path = a_path() + query
    answers = [fetch(host, "cached", path, **options)[0] for _ in range(2)]

    assert received(example_backend, path) == 2
    assert [a["cache"] for a in answers] == [flag, flag]


def test_a_stale_answer_is_served_and_flagged_when_the_backend_is_down(
    host: HostProcess, flaky_backend: servers.BackendProcess
) -> None:
    path = a_path()
    [fresh] = fetch(host, "flaky", path)
    assert received(flaky_backend.base, path) == 1
    flaky_backend.stop()

    [stale] = fetch(host, "flaky", path)
    [never_cached] = fetch(host, "flaky", a_path())

    assert (fresh["cache"], stale["cache"]) == ("miss", "stale")
    assert (stale["status"], stale["body"]) == (200, fresh["body"])
    assert never_cached == {"error": "unavailable"}


def test_cache_metrics_by_service_for_admins_not_teams(host: HostProcess) -> None:
    path = a_path()
    for _ in range(2):
        fetch(host, "cached", path)

    metrics = host.metrics_text()
    assert 'scripthost_backend_cache_events_total{event="hit",service="cached"}' in metrics
    assert 'scripthost_backend_cache_bytes{service="cached"}' in metrics
    assert "scripthost_backend_cache" not in host.metrics_text(TV_TOKEN)


def test_the_request_log_says_where_each_answer_came_from(host: HostProcess) -> None:
    path = a_path()
    fetch(host, "cached", path, times="2")
    fetch(host, "cached", path)

    calls = [
        event["backend_calls"]
        for event in host.log_events()
        if event.get("event") == "request" and event.get("endpoint") == "/fetch"
    ]
    sources = [[call["source"] for call in request] for request in calls[-2:]]
    assert sources == [["network", "shared"], ["cache"]]
