"""Says which objects CPython holds immortal (PEP 683) while it serves a request."""

import json
import sys

from scripthost_sdk import Request, Response, json_response

GREETING = {"hello": "world"}


def handle(req: Request) -> Response:
    made = [req.path]
    is_immortal = sys._is_immortal  # type: ignore[attr-defined]  # CPython 3.14
    return json_response(
        {
            "script's module": is_immortal(sys.modules[__name__]),
            "script's function": is_immortal(handle),
            "script's constant": is_immortal(GREETING),
            "standard library": is_immortal(json.dumps),
            "made by the request": is_immortal(made),
        }
    )
