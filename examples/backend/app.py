"""The example backend: the profile and recommendations services the example scripts call.

Run it with `python -m examples.backend --port 8081`; the host's catalogue then
names `profile=http://127.0.0.1:8081/profile` and
`recommendations=http://127.0.0.1:8081/recommendations`.
"""

from __future__ import annotations

import asyncio

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


def create_app() -> Quart:
    app = Quart(__name__)

    @app.before_request
    async def honour_delay() -> None:
        delay_ms = request.args.get("delay_ms", type=int)
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)

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
        body = await request.get_data(as_text=True)
        return jsonify(
            {
                "method": request.method,
                "path": request.full_path.rstrip("?"),
                "headers": {k.lower(): v for k, v in request.headers.items()},
                # Every header line as received, repeats included.
                "header_lines": [[k.lower(), v] for k, v in request.headers.items()],
                "body": body,
            }
        )

    @app.get("/bytes/<int:size>")
    async def sized(size: int) -> Response:
        return Response(b"x" * size, content_type="application/octet-stream")

    return app
