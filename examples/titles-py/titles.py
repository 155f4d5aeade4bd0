"""Titles as a JSON graph: devices ask for exactly the paths they show.

    GET /tv/titles?paths=[["titles",[1,2,3],["name","rating"]],["lists","top",[0,1,2],"name"]]

Each route fetches everything one request needs from it in one backend call;
the `top` list holds references to titles, which the router follows.
"""

from typing import Any
from urllib.parse import quote

from scripthost_sdk import Request, Response, backend, graph

router = graph.Router()


@router.route("titles[{integers:ids}][{keys:props}]")
def titles(ids: list[int], props: list[str]) -> graph.Results:
    # Every id and field asked for, in one call: /titles?ids=1,2,3
    found = catalog("/titles?ids=" + ",".join(map(str, ids)))["titles"]
    # A title or field the catalog does not have is left out: the router answers it as absent.
    return [
        graph.PathValue(["titles", i, prop], found[str(i)][prop])
        for i in ids
        if str(i) in found
        for prop in props
        if prop in found[str(i)]
    ]


@router.route("lists[{keys:names}].length")
def list_lengths(names: list[str]) -> graph.Results:
    lists = fetch_lists(names)
    return [graph.PathValue(["lists", name, "length"], len(lists[name])) for name in lists]


@router.route("lists[{keys:names}][{integers:indices}]")
def list_entries(names: list[str], indices: list[int]) -> graph.Results:
    # A list's entries are references to titles: the titles route answers what devices ask of them.
    lists = fetch_lists(names)
    return [
        graph.PathValue(["lists", name, index], graph.ref(["titles", ids[index]]))
        for name, ids in lists.items()
        for index in indices
        if index < len(ids)
    ]


def fetch_lists(names: list[str]) -> dict[str, Any]:
    # Both list routes call this with the same names in one request: the host makes that call once.
    lists: dict[str, Any] = catalog(
        "/lists?names=" + ",".join(quote(name, safe="") for name in names)
    )["lists"]
    return lists


def catalog(path: str) -> Any:
    answer = backend.get("catalog", path)
    if not answer.ok:
        # Raised in a route: an error value at every path the route was asked for.
        raise RuntimeError(f"the catalog answered {answer.status}")
    return answer.json()


def handle(req: Request) -> Response:
    return router.serve(req)
