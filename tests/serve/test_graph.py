"""The example graph endpoints, built and served, against the example backend's catalog.

Both languages answer the same JSON Graph for the same paths, and the
backend counts what each query cost: one batched call per route and round,
however many path sets and ids asked for it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import servers
from tests.support.counting import received_under
from tests.support.hosts import HostProcess

LANGUAGES = ("titles-js", "titles-py")


@pytest.fixture(scope="module")
def catalog() -> Iterator[str]:
    """An example backend of this module's own, so its counts are this module's alone."""
    with servers.example_backend() as base:
        yield base


@pytest.fixture(scope="module")
def host(
    tmp_path_factory: pytest.TempPathFactory, catalog: str, built: dict[str, Path]
) -> Iterator[HostProcess]:
    served = HostProcess(
        tmp_path_factory.mktemp("graph") / "host", backends=[f"catalog={catalog}/catalog"]
    ).start()
    for language in LANGUAGES:
        served.cli("deploy", str(built[language]), "--endpoint", f"tv/{language}")
    yield served
    served.stop()


def ask(host: HostProcess, language: str, paths: object) -> tuple[int, Any]:
    with host.device() as device:
        response = device.get(f"/tv/{language}", params={"paths": json.dumps(paths)})
    return response.status_code, response.json()


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_multi_path_query_costs_one_batched_call(
    host: HostProcess, catalog: str, language: str
) -> None:
    before = received_under(catalog, "/catalog/")
    status, answer = ask(
        host,
        language,
        [["titles", [1, 2, 3], ["name", "rating"]], ["titles", {"from": 4, "to": 5}, "year"]],
    )

    assert status == 200
    assert answer == {
        "jsonGraph": {
            "titles": {
                "1": {"name": "Arrival", "rating": 4.6},
                "2": {"name": "Dune", "rating": 4.4},
                "3": {"name": "Heat", "rating": 4.5},
                "4": {"year": 1979},
                "5": {"year": 2009},
            }
        }
    }
    assert received_under(catalog, "/catalog/") - before == 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_references_cost_one_call_per_route_and_identical_calls_are_shared(
    host: HostProcess, catalog: str, language: str
) -> None:
    before = received_under(catalog, "/catalog/")
    status, answer = ask(
        host, language, [["lists", "new", {"from": 0, "to": 1}, "name"], ["lists", "new", "length"]]
    )

    assert status == 200
    assert answer["jsonGraph"] == {
        "lists": {
            "new": {
                "0": {"$type": "ref", "value": ["titles", "2"]},
                "1": {"$type": "ref", "value": ["titles", "6"]},
                "length": 3,
            }
        },
        "titles": {"2": {"name": "Dune"}, "6": {"name": "Her"}},
    }
    # The list (asked by two routes, made once by the host), then its titles.
    assert received_under(catalog, "/catalog/") - before == 2
    sources = [
        [call["source"] for call in event["backend_calls"]]
        for event in host.log_events()
        if event.get("event") == "request" and event.get("endpoint") == f"/{language}"
    ]
    assert sources[-1] == ["network", "shared", "network"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_bad_paths_get_400_with_the_hosts_error_shape(host: HostProcess, language: str) -> None:
    with host.device() as device:
        response = device.get(f"/tv/{language}", params={"paths": "[[", "x": "1"})
    assert response.status_code == 400
    assert response.json()["error"] == "bad_paths"
    assert response.json()["request_id"] == response.headers["x-request-id"]
