"""Tries to leave the sandbox: the filesystem, then a server on 127.0.0.1 at `?port=N`.

`?via=socket` skips the filesystem attempt, to see what the socket attempt does.
"""

import socket
from collections.abc import Callable

from scripthost_sdk import Request, Response, json_response


def read_passwd() -> str:
    with open("/etc/passwd") as passwd:
        return passwd.read()


def connect_out(port: int) -> str:
    conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    conn.connect(("127.0.0.1", port))
    return "connected"


def handle(req: Request) -> Response:
    port = int(req.params.get("port") or 9)
    attempts: dict[str, Callable[[], str]] = {
        "read_passwd": read_passwd,
        "connect_out": lambda: connect_out(port),
    }
    if req.params.get("via") == "socket":
        del attempts["read_passwd"]
    results: dict[str, str] = {}
    for name, attempt in attempts.items():
        try:
            results[name] = attempt()[:200]
        except OSError as exc:
            results[name] = f"refused: {exc!r}"
    return json_response(results, status=200)
