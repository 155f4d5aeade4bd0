"""Prints forever: the log-volume limit (stdout counts) must stop it."""

from scripthost_sdk import Request, Response


def handle(req: Request) -> Response:
    line = 0
    while True:
        print(f"flood line {line}: " + "x" * 100)
        line += 1
