"""Tries to leave the sandbox: the filesystem, then the network.

`?via=socket` skips the filesystem attempt, to see what the socket attempt does.
"""

import socket

from scripthost_sdk import Request, Response, json_response


def read_passwd() -> str:
    with open("/etc/passwd") as passwd:
        return passwd.read()


def connect_out() -> str:
    conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    conn.connect(("127.0.0.1", 18081))
    return "connected"


def handle(req: Request) -> Response:
    results: dict[str, str] = {}
    attempts = [connect_out] if req.params.get("via") == "socket" else [read_passwd, connect_out]
    for attempt in attempts:
        try:
            results[attempt.__name__] = attempt()[:200]
        except OSError as exc:
            results[attempt.__name__] = f"refused: {exc!r}"
    return json_response(results, status=200)
