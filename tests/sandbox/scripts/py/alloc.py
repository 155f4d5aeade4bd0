"""Allocates without bound: the memory quota must stop it."""

from scripthost_sdk import Request, Response

CHUNK = 1 << 20


def handle(req: Request) -> Response:
    hoard: list[bytearray] = []
    while True:
        hoard.append(bytearray(CHUNK))
