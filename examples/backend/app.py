"""The example backend: the profile, recommendations and catalog services the examples call.

Run it with `python -m examples.backend --port 8081`; the host's catalogue then
names `profile=http://127.0.0.1:8081/profile`,
`recommendations=http://127.0.0.1:8081/recommendations` and
`catalog=http://127.0.0.1:8081/catalog`. `GET /_calls` says how many requests
each path (with its query) has received: what tests of de-duplication and
caching count.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from quart import Quart, Response, jsonify, request

USERS: dict[str, dict[str, str]] = {
    "42": {"id": "42", "name": "Ada", "plan": "premium"},
    "7": {"id": "7", "name": "Linus", "plan": "basic"},
}

RECOMMENDATIONS: dict[str, list[dict[str, str]]] = {
    "42": [
        {"id": "m1", "title": "Arrival"},
        {"id": "m2", "title": "Dune"},
        {"id": "m3", "title": "Heat"},
    ],
    "7": [{"id": "m4", "title": "Alien"}],
}


TITLES: dict[int, dict[str, object]] = {
    1: {"name": "Arrival", "rating": 4.6, "year": 2016},
    2: {"name": "Dune", "rating": 4.4, "year": 2021},
    3: {"name": "Heat", "rating": 4.5, "year": 1995},
    4: {"name": "Alien", "rating": 4.7, "year": 1979},
    5: {"name": "Moon", "rating": 4.2, "year": 2009},
    6: {"name": "Her", "rating": 4.1, "year": 2013},
    7: {"name": "Up", "rating": 4.3, "year": 2009},
    8: {"name": "Rush", "rating": 4.0, "year": 2013},
}
# Lists of title ids, as the catalog's editors curate them.
LISTS: dict[str, list[int]] = {"top": [4, 1, 3], "new": [2, 6, 8]}
# The catalog is the same for every caller: shared caches may keep it a minute.
CATALOG_CACHING = "public, max-age=60"


def create_app() -> Quart:
    app = Quart(__name__)
    calls: Counter[str] = Counter()

    @app.before_request
    async def count_and_delay() -> None:
        if request.path != "/_calls":
            calls[request.full_path.rstrip("?")] += 1
        delay_ms = request.args.get("delay_ms", type=int)
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)

    @app.get("/_calls")
    async def received() -> Response:
        return jsonify(dict(calls))

    @app.get("/catalog/titles")
    async def titles() -> Response | tuple[Response, int]:
        """`?ids=1,2,3`: every title asked for in one call; unknown ids are left out."""
        try:
            ids = [int(part) for part in request.args.get("ids", "").split(",") if part]
        except ValueError:
            return jsonify({"error": "ids are integers"}), 400
        found = {str(n): TITLES[n] for n in ids if n in TITLES}
        response = jsonify({"titles": found})
        response.headers["Cache-Control"] = CATALOG_CACHING
        return response

    @app.get("/catalog/lists")
    async def lists() -> Response:
        """`?names=top,new`: the ids on each list asked for."""
        names = [name for name in request.args.get("names", "").split(",") if name]
        response = jsonify({"lists": {name: LISTS[name] for name in names if name in LISTS}})
        response.headers["Cache-Control"] = CATALOG_CACHING
        return response

    @app.get("/profile/users/<user_id>")
    async def profile(user_id: str) -> Response | tuple[Response, int]:
        user = USERS.get(user_id)
        if user is None:
            return jsonify({"error": "no such user"}), 404
        return jsonify(user)

    @app.get("/recommendations/for/<user_id>")
    async def recommendations(user_id: str) -> Response:
        return jsonify({"items": RECOMMENDATIONS.get(user_id, [])})

    @app.route("/echo", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    async def echo() -> Response:
        """What was received. The query's `cache_control`, `vary`, `set_cookie` and `status`
        (or the header `x-echo-status`) shape the answer."""
        body = await request.get_data(as_text=True)
        response = jsonify(
            {
                "method": request.method,
                "path": request.full_path.rstrip("?"),
                "headers": {k.lower(): v for k, v in request.headers.items()},
                # Every header line as received, repeats included.
                "header_lines": [[k.lower(), v] for k, v in request.headers.items()],
                "body": body,
            }
        )
        status = request.headers.get("x-echo-status") or request.args.get("status", "200")
        response.status_code = int(status)
        for header, parameter in (
            ("Cache-Control", "cache_control"),
            ("Vary", "vary"),
            ("Set-Cookie", "set_cookie"),
        ):
            if parameter in request.args:
                response.headers[header] = request.args[parameter]
        return response

    @app.get("/bytes/<int:size>")
    async def sized(size: int) -> Response:
        return Response(b"x" * size, content_type="application/octet-stream")

    return app
