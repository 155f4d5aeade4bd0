"""The same three handlers as a plain Quart app on Hypercorn: the Python stack's ceiling.

python -m bench.baselines.quart_app --port 8000 --backend http://127.0.0.1:8001
"""

from __future__ import annotations

import argparse
import asyncio
import json

import httpx
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, Response, request


def create_app(backend: str) -> Quart:
    app = Quart("baseline")
    clients: list[httpx.AsyncClient] = []

    @app.before_serving
    async def open_client() -> None:
        limits = httpx.Limits(max_connections=256, max_keepalive_connections=64)
        clients.append(httpx.AsyncClient(base_url=backend, limits=limits))

    @app.get("/hello")
    async def hello() -> Response:
        return Response(json.dumps({"hello": "world"}), content_type="application/json")

    @app.get("/aggregate")
    async def aggregate() -> Response:
        answers = await asyncio.gather(*(clients[0].get(f"/{part}") for part in "abc"))
        parts = [answer.json() for answer in answers]
        return Response(json.dumps({"parts": parts}), content_type="application/json")

    @app.post("/cpu")
    async def cpu() -> Response:
        items = json.loads(await request.get_data())["items"]
        out = [
            {"id": i["id"], "name": i["name"].upper(), "score": round(i["score"] * 100)}
            for i in items
            if i["score"] > 0.5
        ]
        document = {"count": len(out), "total": sum(i["score"] for i in out), "items": out}
        return Response(json.dumps(document), content_type="application/json")

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--backend", required=True)
    args = parser.parse_args()
    config = Config()
    config.bind = [f"127.0.0.1:{args.port}"]
    config.accesslog = None
    asyncio.run(serve(create_app(args.backend), config))


if __name__ == "__main__":
    main()
