"""cpu: a JSON transform of the request body (about 100 KB)."""

import json

from scripthost_sdk import Request, Response, json_response


def handle(req: Request) -> Response:
    items = json.loads(req.body)["items"]
    out = [
        {"id": item["id"], "name": item["name"].upper(), "score": round(item["score"] * 100)}
        for item in items
        if item["score"] > 0.5
    ]
    return json_response({"count": len(out), "total": sum(i["score"] for i in out), "items": out})
