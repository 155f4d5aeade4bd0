"""The titles graph script on the host's CPython, against the example catalog's data.

This checks the script's logic in milliseconds; tests/serve/test_graph.py serves
the built components of both languages against the real example backend and
counts the calls it receives.
"""

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import cast
from urllib.parse import parse_qs, quote, urlsplit

from scripthost_sdk import BackendRequest, BackendResponse, Request, Response
from scripthost_sdk.testing import BackendAnswer, FakeHost

HERE = Path(__file__).parent


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_handle() -> Callable[[Request], Response]:
    return cast(Callable[[Request], Response], load(HERE / "titles.py").handle)


# The example backend's own data: what its catalog service answers.
_BACKEND = load(HERE.parent / "backend" / "app.py")
TITLES: dict[int, dict[str, object]] = _BACKEND.TITLES
LISTS: dict[str, list[int]] = _BACKEND.LISTS


def catalog(call: BackendRequest) -> BackendAnswer:
    """What the example backend's catalog answers, without the HTTP."""
    parts = urlsplit(call.path)
    (values,) = parse_qs(parts.query).values()
    keys = values[0].split(",")
    if parts.path == "/titles":
        found = {key: TITLES[int(key)] for key in keys if int(key) in TITLES}
        return BackendResponse(200, body=json.dumps({"titles": found}).encode())
    lists = {name: LISTS[name] for name in keys if name in LISTS}
    return BackendResponse(200, body=json.dumps({"lists": lists}).encode())


def ask(paths: object) -> tuple[Response, FakeHost]:
    with FakeHost(handler=catalog) as host:
        response = load_handle()(Request(query="paths=" + quote(json.dumps(paths))))
    return response, host


def test_one_call_for_all_the_titles_a_request_names() -> None:
    response, host = ask([["titles", [1, 2, 3], ["name", "rating"]], ["titles", 4, "year"]])

    assert response.status == 200
    assert json.loads(response.body)["jsonGraph"] == {
        "titles": {
            "1": {"name": "Arrival", "rating": 4.6},
            "2": {"name": "Dune", "rating": 4.4},
            "3": {"name": "Heat", "rating": 4.5},
            "4": {"year": 1979},
        }
    }
    assert [call.path for call in host.calls] == ["/titles?ids=1,2,3,4"]


def test_lists_hold_references_to_titles() -> None:
    response, host = ask([["lists", "top", [0, 1, 2, 3], "name"], ["lists", "top", "length"]])

    graph = json.loads(response.body)["jsonGraph"]
    assert graph["lists"]["top"] == {
        "0": {"$type": "ref", "value": ["titles", "4"]},
        "1": {"$type": "ref", "value": ["titles", "1"]},
        "2": {"$type": "ref", "value": ["titles", "3"]},
        "3": {"$type": "atom"},
        "length": 3,
    }
    assert graph["titles"] == {
        "4": {"name": "Alien"},
        "1": {"name": "Arrival"},
        "3": {"name": "Heat"},
    }
    # Both list routes asked for the same list (the host makes that call once); then the titles.
    assert [call.path for call in host.calls] == [
        "/lists?names=top",
        "/lists?names=top",
        "/titles?ids=4,1,3",
    ]


def test_unknown_titles_and_fields_are_absent_not_errors() -> None:
    response, _ = ask([["titles", [99, 1], ["name", "budget"]]])

    assert json.loads(response.body)["jsonGraph"]["titles"] == {
        "99": {"name": {"$type": "atom"}, "budget": {"$type": "atom"}},
        "1": {"name": "Arrival", "budget": {"$type": "atom"}},
    }


def test_a_catalog_failure_is_an_error_at_each_path_it_leaves_unanswered() -> None:
    with FakeHost(handler=lambda call: BackendResponse(503, body=b"down")) as host:
        response = load_handle()(Request(query="paths=" + quote('[["titles",[1,2],"name"]]')))

    failed = {"$type": "error", "value": {"message": "RuntimeError: the catalog answered 503"}}
    assert json.loads(response.body)["jsonGraph"] == {
        "titles": {"1": {"name": failed}, "2": {"name": failed}}
    }
    assert len(host.calls) == 1
