"""A script of several modules and a pure-Python package, bundled for the shared runtime."""

import helpers
from packaging.version import Version
from scripthost_sdk import Request, Response, json_response
from text import shout


def handle(req: Request) -> Response:
    if req.params.get("fail"):
        return json_response({"missing": helpers.look_up("nothing")})
    newer = Version("1.10") > Version("1.9")
    return json_response({"said": shout("hi"), "newer": newer, "count": helpers.count()})
