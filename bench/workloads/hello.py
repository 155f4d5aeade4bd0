"""hello: no backend, a small JSON answer."""

from scripthost_sdk import Request, Response, json_response


def handle(req: Request) -> Response:
    return json_response({"hello": "world"})
