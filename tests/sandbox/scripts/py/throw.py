"""Raises an exception it does not catch."""

from scripthost_sdk import Request, Response


def handle(req: Request) -> Response:
    raise ValueError("kaboom")
