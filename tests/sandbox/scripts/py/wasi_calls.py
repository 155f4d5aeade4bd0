"""Reaches for WASI the component does not have: `?try=clock`, `random` or `file`."""

import os
import time

from scripthost_sdk import Request, Response, json_response


def _clock() -> object:
    return time.time()


def _random() -> object:
    return os.urandom(8).hex()


def _file() -> object:
    with open("/etc/passwd") as passwd:
        return passwd.read()


ATTEMPTS = {"clock": _clock, "random": _random, "file": _file}


def handle(req: Request) -> Response:
    return json_response({"got": repr(ATTEMPTS[req.params["try"]]())})
