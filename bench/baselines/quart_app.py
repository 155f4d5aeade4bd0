"""The same three handlers as a plain Quart app on Hypercorn: the Python stack's ceiling.

python -m bench.baselines.quart_app --port 8000 --backend http://127.0.0.1:8001
"""

from __future__ import annotations

import argparse
import asyncio
import json

import aiohttp
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart, Response, request


def create_app(backend: str) -> Quart:
    app = Quart("baseline")
    # The client scripthost's backend calls use, so the two differ by the sandbox only.
    clients: list[aiohttp.ClientSession] = []

    @app.before_serving
    async def open_client() -> None:
        connector = aiohttp.TCPConnector(limit=256, limit_per_host=0)
        clients.append(aiohttp.ClientSession(backend, connector=connector))

    @app.after_serving
    async def close_client() -> None:
        await clients[0].close()

    async def fetch(path: str) -> object:
        async with clients[0].get(path) as answer:
            return await answer.json()

    @app.get("/hello")
    async def hello() -> Response:
        return Response(json.dumps({"hello": "world"}), content_type="application/json")

    @app.get("/aggregate")
    async def aggregate() -> Response:
        parts = await asyncio.gather(*(fetch(f"/{part}") for part in "abc"))
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
