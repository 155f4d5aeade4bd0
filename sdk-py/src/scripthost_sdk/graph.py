"""Path-shaped data access in the style of Falcor's JSON Graph router.

A device asks for paths into one JSON graph::

    GET /tv/titles?paths=[["titles",[1,2,3],["name","rating"]],["lists","top",[0,1],"name"]]

and the script declares, once per route, how that part of the graph is fetched::

    from scripthost_sdk import Request, Response, backend, graph

    router = graph.Router()

    @router.route("titles[{integers:ids}][{keys:props}]")
    def titles(ids: list[int], props: list[str]) -> graph.Results:
        found = backend.get("catalog", "/titles?ids=" + ",".join(map(str, ids))).json()
        return [graph.PathValue(["titles", i, p], found[str(i)][p]) for i in ids for p in props]

    def handle(req: Request) -> Response:
        return router.serve(req)

A route gets every key the request needs from it at once (one batched backend
call for all the ids, however many paths named them). Values may be references
to other parts of the graph (`graph.ref(["titles", 4])`), which the router
follows; a route that raises, or a path no route serves, becomes an error value
at that path while the other paths are still answered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

from scripthost_sdk._http import Request, Response, json_response

Key = str | int
Path = list[str]
JsonGraph = dict[str, Any]
# Path values (`PathValue` or `(path, value)` pairs), or `{"jsonGraph": {...}}`.
Results = Iterable[Any] | Mapping[str, Any]
RouteHandler = Callable[..., Results]

_INTEGER_KEY = re.compile(r"^(0|[1-9][0-9]{0,15})$")
_PATTERN_TOKEN = re.compile(
    r"\s*(?:(?P<first>[A-Za-z_$][\w$-]*)|\.(?P<dotted>[A-Za-z_$][\w$-]*)"
    r"|\[\s*\{\s*(?P<kind>integers|ranges|keys)\s*(?::\s*(?P<name>[A-Za-z_$][\w$]*))?\s*\}\s*\]"
    r"|\[(?P<literals>[^\]]*)\])"
)
_NO_VALUE = object()


@dataclass(frozen=True)
class PathValue:
    """A value at a path, as a route returns it."""

    path: Sequence[Key]
    value: Any


@dataclass(frozen=True)
class Limits:
    # Values one request may name, all path sets together.
    max_paths: int = 1000
    # Keys in one path set.
    max_depth: int = 32
    # References one path may pass through.
    max_ref_hops: int = 32
    # Rounds of routes (each reference followed may need one).
    max_rounds: int = 16


class PathError(ValueError):
    """Paths the router will not read; `serve` answers them with 400 `bad_paths`."""


def ref(path: Sequence[Key]) -> dict[str, Any]:
    """A reference to another place in the graph."""
    return {"$type": "ref", "value": [str(key) for key in path]}


def atom(value: Any = _NO_VALUE) -> dict[str, Any]:
    """A value held as a whole (a dict or list that is not a branch); no value: known absent."""
    return {"$type": "atom"} if value is _NO_VALUE else {"$type": "atom", "value": value}


def error(message: str) -> dict[str, Any]:
    """An error in place of a value."""
    return {"$type": "error", "value": {"message": str(message)}}


@dataclass(frozen=True)
class _Token:
    kind: str  # literal, integers, ranges or keys
    name: str = ""
    keys: frozenset[str] = frozenset()

    def matches(self, key: str) -> bool:
        if self.kind == "literal":
            return key in self.keys
        return self.kind == "keys" or bool(_INTEGER_KEY.match(key))


@dataclass(frozen=True)
class _Route:
    pattern: str
    tokens: tuple[_Token, ...]
    handler: RouteHandler

    def matches(self, path: Path) -> bool:
        return len(path) >= len(self.tokens) and all(
            token.matches(key) for token, key in zip(self.tokens, path, strict=False)
        )


@dataclass
class Router:
    """Routes in the order they are declared; the first that matches a path serves it."""

    limits: Limits = field(default_factory=Limits)
    _routes: list[_Route] = field(default_factory=list)

    def route(self, pattern: str) -> Callable[[RouteHandler], RouteHandler]:
        """Declare how the part of the graph `pattern` names is fetched.

        The handler gets the captured keys as keyword arguments: `integers` as
        ints, `ranges` as `[{"from": a, "to": b}]`, `keys` as strings. It
        returns `PathValue`s (or `(path, value)` pairs), or `{"jsonGraph": ...}`.
        """
        tokens = _parse_pattern(pattern)

        def register(handler: RouteHandler) -> RouteHandler:
            self._routes.append(_Route(pattern, tokens, handler))
            return handler

        return register

    def get(self, path_sets: Any) -> JsonGraph:
        """The JSON Graph holding every path asked for and the references on the way."""
        requested = _expand_path_sets(path_sets, self.limits)
        graph: JsonGraph = {}
        asked: set[tuple[int, tuple[str, ...]]] = set()
        for _ in range(self.limits.max_rounds):
            missing = _unique(
                found for path in requested if (found := _walk(graph, path, self.limits)[1])
            )
            if not missing:
                break
            self._fetch(graph, missing, asked)
        answer: JsonGraph = {}
        for path in requested:
            for at, value in _walk(graph, path, self.limits)[0]:
                _set_in(answer, at, value)
        return answer

    def serve(self, req: Request) -> Response:
        """The device's answer: `?paths=` (GET) or `{"paths": [...]}` (POST) in,
        `{"jsonGraph": ...}` out."""
        try:
            return json_response({"jsonGraph": self.get(_read_paths(req))})
        except PathError as bad:
            body = {"error": "bad_paths", "message": str(bad), "request_id": req.request_id}
            return json_response(body, status=400)

    def _fetch(
        self, graph: JsonGraph, missing: list[Path], asked: set[tuple[int, tuple[str, ...]]]
    ) -> None:
        groups: dict[int, list[Path]] = {}
        for path in missing:
            index = next((i for i, r in enumerate(self._routes) if r.matches(path)), None)
            if index is None:
                _set_in(graph, path, error(f"no route serves {'.'.join(path)}"))
                continue
            prefix = path[: len(self._routes[index].tokens)]
            if (index, tuple(prefix)) in asked:
                # The route was asked for this already and did not say: nothing is there.
                _set_in(graph, path, atom())
                continue
            asked.add((index, tuple(prefix)))
            groups.setdefault(index, []).append(prefix)
        for index, prefixes in groups.items():
            route = self._routes[index]
            try:
                _merge(graph, route.handler(**_captures(route.tokens, prefixes)))
            except Exception as failure:  # any failure is that path's error
                for prefix in prefixes:
                    _set_in(graph, prefix, error(f"{type(failure).__name__}: {failure}"))
                continue
            for prefix in prefixes:
                if _walk(graph, prefix, self.limits)[1] is not None:
                    _set_in(graph, prefix, atom())


def _read_paths(req: Request) -> Any:
    method = req.params.get("method")
    if method is not None and method != "get":
        raise PathError(f"only method=get is supported, not {method}")
    raw: str | None = req.params.get("paths")
    if req.method == "POST":
        try:
            raw = json.dumps(req.json()["paths"])
        except (ValueError, KeyError, TypeError):
            raise PathError('a POST body is {"paths": [...]}') from None
    if raw is None:
        raise PathError('ask for paths: ?paths=[["titles",[1,2],"name"]]')
    try:
        return json.loads(raw)
    except ValueError:
        raise PathError("paths must be JSON") from None


def _parse_pattern(pattern: str) -> tuple[_Token, ...]:
    tokens: list[_Token] = []
    at = 0
    while at < len(pattern):
        found = _PATTERN_TOKEN.match(pattern, at)
        if found is None or (found["first"] and tokens):
            raise ValueError(f"bad route pattern {pattern!r} at {at}")
        if found["kind"]:
            kind = found["kind"]
            tokens.append(_Token(kind, found["name"] or ""))
        else:
            keys = [found["first"] or found["dotted"]] if found["literals"] is None else None
            tokens.append(
                _Token("literal", keys=frozenset(keys or _literals(found["literals"], pattern)))
            )
        at = found.end()
    if not tokens:
        raise ValueError("a route pattern names at least one key")
    return tuple(tokens)


def _literals(text: str, pattern: str) -> list[str]:
    try:
        values = json.loads(f"[{text.replace(chr(39), chr(34))}]")
    except ValueError:
        raise ValueError(f"bad keys [{text}] in route pattern {pattern!r}") from None
    return [str(value) for value in values]


def _captures(tokens: Sequence[_Token], prefixes: list[Path]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for i, token in enumerate(tokens):
        if not token.name:  # a literal, or a capture the route does not name
            continue
        keys = list(dict.fromkeys(prefix[i] for prefix in prefixes))
        if token.kind == "keys":
            found[token.name] = keys
        elif token.kind == "integers":
            found[token.name] = [int(key) for key in keys]
        else:
            found[token.name] = _ranges(int(key) for key in keys)
    return found


def _ranges(numbers: Iterable[int]) -> list[dict[str, int]]:
    ranges: list[dict[str, int]] = []
    for n in sorted(numbers):
        if ranges and n == ranges[-1]["to"] + 1:
            ranges[-1]["to"] = n
        else:
            ranges.append({"from": n, "to": n})
    return ranges


def _expand_path_sets(path_sets: Any, limits: Limits) -> list[Path]:
    if not isinstance(path_sets, list) or not path_sets:
        raise PathError("paths is a non-empty list of path sets")
    budget = limits.max_paths
    paths: list[Path] = []
    for path_set in path_sets:
        if not isinstance(path_set, list) or not 1 <= len(path_set) <= limits.max_depth:
            raise PathError(
                f"a path set is a list of 1 to {limits.max_depth} key sets, not {path_set!r}"
            )
        key_sets = [_expand_key_set(key_set, budget) for key_set in path_set]
        count = 1
        for keys in key_sets:
            count *= len(keys)
        if count > budget:
            raise PathError(f"the paths name more than {limits.max_paths} values")
        budget -= count
        paths += [list(path) for path in product(*key_sets)]
    return _unique(paths)


def _expand_key_set(key_set: Any, budget: int) -> list[str]:
    keys: list[str] = []
    for part in key_set if isinstance(key_set, list) else [key_set]:
        if part == "$type":
            raise PathError("$type is not a key")
        if isinstance(part, str):
            keys.append(part)
        elif isinstance(part, int) and not isinstance(part, bool):
            keys.append(str(part))
        elif isinstance(part, dict):
            keys += _expand_range(part, budget - len(keys))
        else:
            raise PathError(f"a key is a string, an integer or a range, not {json.dumps(part)}")
        if len(keys) > budget:
            raise PathError("the paths name too many values")
    return keys


def _expand_range(part: dict[str, Any], budget: int) -> list[str]:
    start: Any = part.get("from", 0)
    to: Any = part.get("to")
    length: Any = part.get("length")
    if to is None and _integers(start, length):
        to = start + length - 1
    if not _integers(start, to) or start < 0 or to < start - 1:
        raise PathError('a range is {"from": n, "to": m} or {"from": n, "length": k} with integers')
    if to - start + 1 > budget:
        raise PathError("the paths name too many values")
    return [str(n) for n in range(start, to + 1)]


def _integers(*values: Any) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def _unique(paths: Iterable[Path]) -> list[Path]:
    return list({tuple(path): path for path in paths}.values())


# The graph: dicts are branches; anything else (a $type sentinel or a JSON primitive) is a leaf.
def _is_branch(node: Any) -> bool:
    return isinstance(node, dict) and "$type" not in node


Visited = list[tuple[Path, Any]]


def _walk(graph: JsonGraph, path: Path, limits: Limits) -> tuple[Visited, Path | None]:
    """Follow `path`: the leaves on the way (references and the value), and where it goes
    missing."""
    visited: Visited = []
    current = path
    for _ in range(limits.max_ref_hops + 1):
        node: Any = graph
        followed = False
        for i, key in enumerate(current):
            if not _is_branch(node):
                visited.append((current[:i], node))
                return visited, None
            if key not in node:
                return visited, current
            node = node[key]
            if isinstance(node, dict) and node.get("$type") == "ref" and i < len(current) - 1:
                visited.append((current[: i + 1], node))
                current = [*node["value"], *current[i + 1 :]]
                followed = True
                break
        if not followed:
            if _is_branch(node):
                node = error(f"{'.'.join(current)} is a branch: ask for its keys")
            visited.append((current, node))
            return visited, None
    visited.append((current, error(f"more than {limits.max_ref_hops} references on the way")))
    return visited, None


def _set_in(graph: JsonGraph, path: Path, value: Any) -> None:
    node = graph
    for key in path[:-1]:
        if not _is_branch(node.get(key)):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


def _merge(graph: JsonGraph, results: Results) -> None:
    if isinstance(results, Mapping):
        if not _is_branch(results.get("jsonGraph")):
            raise TypeError("a route returns path values or {'jsonGraph': {...}}")
        _merge_branch(graph, results["jsonGraph"])
        return
    for item in results:
        path, value = (item.path, item.value) if isinstance(item, PathValue) else tuple(item)
        _set_in(graph, [str(key) for key in path], _as_leaf(value))


def _merge_branch(target: JsonGraph, source: Mapping[str, Any]) -> None:
    for key, value in source.items():
        if not _is_branch(value):
            target[str(key)] = value
            continue
        if not _is_branch(target.get(str(key))):
            target[str(key)] = {}
        _merge_branch(target[str(key)], value)


def _as_leaf(value: Any) -> Any:
    if isinstance(value, dict) and "$type" in value:
        return value
    return atom(value) if isinstance(value, (dict, list)) else value
