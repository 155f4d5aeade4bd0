"""Calls the config import in an endless loop: the host must cap host calls."""

from scripthost_sdk import Request, Response, config


def handle(req: Request) -> Response:
    calls = 0
    while True:
        config.get("greeting")
        calls += 1
