"""Keeps a count in module state: with instance reuse the count goes up from
one request to the next; with a fresh instance per request it is always 1."""

from scripthost_sdk import Request, Response, json_response

served = 0


def handle(req: Request) -> Response:
    global served
    served += 1
    print(f"serving {req.request_id}")
    if req.params.get("fail"):
        raise ValueError("asked to fail")
    return json_response({"served": served})
