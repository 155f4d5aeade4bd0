"""A tiny well-behaved script: the baseline the adversarial ones are measured against."""

from scripthost_sdk import Request, Response, json_response


def handle(req: Request) -> Response:
    return json_response({"ok": True})
