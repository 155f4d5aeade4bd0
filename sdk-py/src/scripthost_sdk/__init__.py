"""Write scripthost endpoint scripts in Python.

A script is a module with one function::

    from scripthost_sdk import Request, Response, json_response

    def handle(req: Request) -> Response:
        return json_response({"hello": req.params.get("name", "world")})

`scripthost build script.py -o script.wasm` (or `python -m scripthost_sdk.build`)
turns it into a WebAssembly component. Inside it, `backend`, `config` and `log` talk
to the host; `print` goes to the request log; `graph` serves paths into a JSON graph.
"""

from scripthost_sdk import backend, config, graph, log
from scripthost_sdk._http import (
    Headers,
    HeadersLike,
    Request,
    Response,
    json_response,
    text_response,
)
from scripthost_sdk.backend import BackendError, BackendErrorKind, BackendRequest, BackendResponse

__all__ = [
    "BackendError",
    "BackendErrorKind",
    "BackendRequest",
    "BackendResponse",
    "Headers",
    "HeadersLike",
    "Request",
    "Response",
    "backend",
    "config",
    "graph",
    "json_response",
    "log",
    "text_response",
]
