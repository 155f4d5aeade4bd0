"""The pytest plugin behind `scripthost test --sandbox` and `--live URL`.

With neither, it does nothing. With one, a script module a test imports
(a `.py` file under the tests' root that is not a test or conftest) keeps all
it defines but `handle`, which sends the request elsewhere: to the real
sandbox, through the script runner `scripthost test` started (the installed
FakeHost answers the script's backend calls and receives its logs), or to
the endpoint deployed at the `--live` URL. The protocol is described in the
host's `host/script_runner.py`.
"""

from __future__ import annotations

import base64
import importlib.abc
import importlib.machinery
import json
import os
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from scripthost_sdk import _abi
from scripthost_sdk._http import Request, Response
from scripthost_sdk.backend import BackendError, BackendRequest, BackendResponse
from scripthost_sdk.testing import FakeHost, LogLine

Handle = Callable[[Request], Response]
JsonObject = dict[str, Any]

SANDBOX = os.environ.get("SCRIPTHOST_TEST_SANDBOX")
LIVE = os.environ.get("SCRIPTHOST_TEST_LIVE")


class RemoteFailure(Exception):
    """The script failed in the sandbox; `failure` is the host's description of it."""

    def __init__(self, failure: JsonObject) -> None:
        detail = failure.get("guest_detail")
        super().__init__(
            f"{failure['class']} ({failure['status']}): {failure['message']}"
            + (f"\n{detail}" if detail else "")
        )
        self.failure = failure


def remote_handle(script: Path) -> Handle:
    def handle(request: Request) -> Response:
        if LIVE:
            return _live(LIVE, request)
        installed = _abi._installed
        host = installed if isinstance(installed, FakeHost) else FakeHost()
        return _sandboxed(cast(str, SANDBOX), script, request, host)

    return handle


def _live(url: str, request: Request) -> Response:
    target = url + (f"?{request.query}" if request.query else "")
    sent = urllib.request.Request(
        target,
        data=request.body or None,
        headers=dict(request.headers),
        method=request.method,
    )
    try:
        with urllib.request.urlopen(sent) as reply:
            return Response(reply.status, list(reply.headers.items()), reply.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, list(error.headers.items()), error.read())


def _sandboxed(runner: str, script: Path, request: Request, host: FakeHost) -> Response:
    with _answering(host) as answers:
        document = {
            "script": str(script),
            "request": {
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "headers": [list(pair) for pair in request.headers],
                "body_base64": base64.b64encode(request.body).decode(),
            },
            "config": dict(host.config),
            "answers": answers,
        }
        result = _post_json(f"{runner}/run", document)
    for line in result["logs"]:
        host.logs.append(LogLine(line["level"], line["message"], dict(line["fields"])))
    if result.get("failure"):
        raise RemoteFailure(result["failure"])
    response = result["response"]
    body = (
        base64.b64decode(response["body_base64"])
        if "body_base64" in response
        else response["body"].encode()
    )
    return Response(response["status"], [tuple(pair) for pair in response["headers"]], body)


def _post_json(url: str, document: JsonObject) -> JsonObject:
    sent = urllib.request.Request(
        url, data=json.dumps(document).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(sent) as reply:
            return cast(JsonObject, json.load(reply))
    except urllib.error.HTTPError as error:
        message = json.load(error).get("message", error.reason)
        raise RuntimeError(f"scripthost test --sandbox: {message}") from None


@contextmanager
def _answering(host: FakeHost) -> Iterator[str]:
    """A loopback server on which the host's relayed backend calls reach `host`."""

    class Answers(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            calls = [_from_wire(call) for call in json.loads(self.rfile.read(length))["calls"]]
            body = json.dumps({"answers": [_to_wire(a) for a in _answer(host, calls)]}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test's own output is what the author reads."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def _answer(
    host: FakeHost, calls: Sequence[BackendRequest]
) -> list[BackendResponse | BackendError]:
    if len(calls) == 1:
        return [host.backend_call(calls[0])]
    return host.backend_call_batch(calls)


def _from_wire(call: JsonObject) -> BackendRequest:
    return BackendRequest(
        service=call["service"],
        path=call["path"],
        method=call["method"],
        headers=[(name, value) for name, value in call["headers"]],
        body=base64.b64decode(call["body_base64"]),
        timeout_ms=call.get("timeout_ms"),
    )


def _to_wire(answer: BackendResponse | BackendError) -> JsonObject:
    if isinstance(answer, BackendError):
        return {"error": answer.kind, "message": answer.message}
    return {
        "status": answer.status,
        "headers": [list(pair) for pair in answer.headers],
        "body_base64": base64.b64encode(answer.body).decode(),
    }


class _ScriptFinder(importlib.abc.MetaPathFinder):
    """Finds script modules under `root` and has their `handle` run remotely."""

    def __init__(self, root: Path) -> None:
        self._root = root

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None or spec.loader is None:
            return None
        origin = Path(spec.origin).resolve()
        if not self._is_script(origin):
            return None
        spec.loader = _RemoteHandleLoader(spec.loader, origin)
        return spec

    def _is_script(self, origin: Path) -> bool:
        name = origin.name
        return (
            origin.suffix == ".py"
            and origin.is_relative_to(self._root)
            and not {"site-packages", ".venv", "venv"} & set(origin.parts)
            and not (name.startswith("test_") or name.endswith("_test.py"))
            and name != "conftest.py"
        )


class _RemoteHandleLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, origin: Path) -> None:
        self._loader = loader
        self._origin = origin

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        if hasattr(module, "handle"):
            module.__dict__["handle"] = remote_handle(self._origin)


def pytest_configure(config: Any) -> None:
    if SANDBOX or LIVE:
        sys.meta_path.insert(0, _ScriptFinder(Path(str(config.rootpath)).resolve()))


__all__ = ["RemoteFailure", "remote_handle"]
