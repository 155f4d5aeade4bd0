"""The JSON Graph router: batched routes, references, per-path errors, bounded input."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from scripthost_sdk import Request, graph
from scripthost_sdk.graph import PathValue, Router, atom, error, ref

TITLES: dict[int, dict[str, Any]] = {
    1: {"name": "Arrival", "rating": 4.6},
    2: {"name": "Dune", "rating": 4.4},
    3: {"name": "Heat", "rating": 4.5},
    4: {"name": "Alien", "rating": 4.7},
}


class Asked:
    def __init__(self) -> None:
        self.titles: list[tuple[list[int], list[str]]] = []
        self.lists: list[tuple[list[str], list[int]]] = []


def titles_router() -> tuple[Router, Asked]:
    router, asked = Router(), Asked()

    @router.route("titles[{integers:ids}][{keys:props}]")
    def titles(ids: list[int], props: list[str]) -> graph.Results:
        asked.titles.append((ids, props))
        known = [i for i in ids if i in TITLES]
        return [PathValue(["titles", i, p], TITLES[i][p]) for i in known for p in props]

    @router.route("lists[{keys:names}][{integers:indices}]")
    def lists(names: list[str], indices: list[int]) -> graph.Results:
        asked.lists.append((names, indices))
        top = [4, 1]
        refs = {str(i): ref(["titles", top[i]]) for i in indices if i < len(top)}
        return {"jsonGraph": {"lists": {"top": refs}}}

    @router.route("broken[{integers}]")
    def broken() -> graph.Results:
        raise ConnectionError("the service is down")

    return router, asked


def test_one_route_call_serves_every_id_and_key_across_path_sets() -> None:
    router, asked = titles_router()
    answer = router.get(
        [["titles", [1, 2], ["name", "rating"]], ["titles", {"from": 2, "to": 3}, "name"]]
    )
    assert asked.titles == [([1, 2, 3], ["name", "rating"])]
    assert answer == {
        "titles": {
            "1": {"name": "Arrival", "rating": 4.6},
            "2": {"name": "Dune", "rating": 4.4},
            "3": {"name": "Heat"},
        }
    }


def test_references_are_followed_and_answered_with_their_targets() -> None:
    router, asked = titles_router()
    answer = router.get([["lists", "top", {"from": 0, "length": 2}, "name"]])
    assert asked.lists == [(["top"], [0, 1])]
    assert asked.titles == [([4, 1], ["name"])]
    assert answer == {
        "lists": {"top": {"0": ref(["titles", 4]), "1": ref(["titles", 1])}},
        "titles": {"4": {"name": "Alien"}, "1": {"name": "Arrival"}},
    }


def test_errors_are_per_path() -> None:
    router, _ = titles_router()
    answer = router.get(
        [["broken", 7], ["nowhere", "x"], ["titles", 9, "name"], ["titles", 1, "name"]]
    )
    assert answer["broken"] == {"7": error("ConnectionError: the service is down")}
    assert answer["nowhere"] == {"x": error("no route serves nowhere.x")}
    assert answer["titles"] == {"9": {"name": atom()}, "1": {"name": "Arrival"}}


def test_a_list_beyond_its_end_is_absent() -> None:
    router, _ = titles_router()
    assert router.get([["lists", "top", 5, "name"]]) == {"lists": {"top": {"5": atom()}}}


def test_a_reference_cycle_ends_in_an_error() -> None:
    router = Router()

    @router.route("a[{keys}]")
    def cycle() -> graph.Results:
        return [(["a", "x"], ref(["a", "x"]))]

    answer = router.get([["a", "x", "name"]])
    assert "more than 32 references" in answer["a"]["x"]["name"]["value"]["message"]


def test_object_values_are_atoms_and_literal_and_range_patterns_match() -> None:
    router, asked = Router(), []

    @router.route('user["profile","prefs"]')
    def user() -> graph.Results:
        return [(["user", "profile"], {"plan": "premium"})]

    @router.route("rows[{ranges:r}]")
    def rows(r: list[dict[str, int]]) -> graph.Results:
        asked.append(r)
        return []

    answer = router.get([["user", ["profile", "prefs"]], ["rows", [0, 1, 2, 5]]])
    assert answer["user"] == {"profile": atom({"plan": "premium"}), "prefs": atom()}
    assert asked == [[{"from": 0, "to": 2}, {"from": 5, "to": 5}]]


def body(response: Any) -> Any:
    return json.loads(response.body)


def test_serve_reads_the_query_and_answers_json_graph() -> None:
    router, _ = titles_router()
    query = "paths=" + quote(json.dumps([["titles", 1, "name"]]))
    response = router.serve(Request(query=query))
    assert response.status == 200
    assert body(response) == {"jsonGraph": {"titles": {"1": {"name": "Arrival"}}}}


def test_serve_reads_a_post_body() -> None:
    router, _ = titles_router()
    sent = json.dumps({"paths": [["titles", 2, "name"]]}).encode()
    response = router.serve(Request(method="POST", body=sent))
    assert body(response)["jsonGraph"] == {"titles": {"2": {"name": "Dune"}}}


@pytest.mark.parametrize(
    "query",
    [
        "",
        "paths=[[",
        "paths={}",
        "paths=[[]]",
        'paths=[["titles",1.5]]',
        'paths=[["titles",{"from":3,"to":"x"}]]',
        'paths=[["titles",{"from":0,"to":5000},"name"]]',
        'paths=[["titles",{"from":0,"to":1000000000000000}]]',
        'paths=[["titles","$type"]]',
        'method=call&paths=[["titles",1]]',
    ],
    ids=[
        "no-paths",
        "not-json",
        "not-a-list",
        "empty-path-set",
        "bad-key",
        "bad-range",
        "too-many-values",
        "huge-range",
        "type-key",
        "another-method",
    ],
)
def test_serve_answers_400_bad_paths(query: str) -> None:
    router, asked = titles_router()
    response = router.serve(Request(query=quote(query, safe="=&"), request_id="r1"))
    assert response.status == 400
    assert body(response)["error"] == "bad_paths"
    assert body(response)["request_id"] == "r1"
    assert (asked.titles, asked.lists) == ([], [])


@pytest.mark.parametrize("pattern", ["titles[{integer:ids}]", "a b", ""])
def test_a_bad_route_pattern_fails_when_declared(pattern: str) -> None:
    with pytest.raises(ValueError, match="route pattern"):
        Router().route(pattern)
