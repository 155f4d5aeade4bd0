"""Never returns: only the fuel quota (or the wall-clock deadline) stops it."""

from scripthost_sdk import Request, Response


def handle(req: Request) -> Response:
    spins = 0
    while True:
        spins += 1
