"""The sandbox behind `scripthost test --sandbox`: script tests' requests run for real.

The SDKs' test support (Node and pytest processes) sends each request a test
makes to `POST /run` on this loopback server: the script's path, the request,
the fake host's config and the address of an answering server the test
process runs. The script is bundled (once per run of the tests), evaluated in
the real sandbox on its real runtime with the endpoint's default limits, and
each backend call it makes is relayed to the test process, whose FakeHost
answers and records it. The reply is `scripthost invoke`'s JSON.

    POST /run  {"script": PATH, "request": {method, path, query, headers, body_base64},
                "config": {KEY: VALUE}, "answers": URL}
    POST URL   {"calls": [{service, method, path, headers, body_base64, timeout_ms}]}
           ->  {"answers": [{"status", "headers", "body_base64"} | {"error": KIND, "message"}]}
"""

from __future__ import annotations

import asyncio
import base64
import json
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from host.backend_types import (
    BackendCallRecord,
    BackendError,
    BackendErrorKind,
    BackendOutcome,
    BackendRequest,
    BackendResponse,
    CallSource,
    call_record,
)
from host.backends import Catalogue
from host.build import BUNDLE_SUFFIX, BuildError, build_bundle
from host.call_memo import CallMemo
from host.errors import HostError
from host.invoke import invoke, request_from_json, result_document
from host.sandbox import Limits, SandboxEngine

JsonObject = dict[str, Any]


class RelayedBackends:
    """A backend port whose every call is answered by the test process's FakeHost."""

    def __init__(self, answers_url: str) -> None:
        self._answers_url = answers_url

    async def call_batch(
        self,
        requests: Sequence[BackendRequest],
        *,
        allowed: frozenset[str] | None,
        deadline: float,
        concurrency: int,
        memo: CallMemo | None = None,
    ) -> list[tuple[BackendOutcome, BackendCallRecord]]:
        started = time.monotonic()
        timeout = max(0.001, deadline - started)
        document = {"calls": [_call_document(request) for request in requests]}
        try:
            async with httpx.AsyncClient(timeout=timeout) as client:
                reply = await client.post(self._answers_url, json=document)
            answers = [_outcome(answer) for answer in reply.json()["answers"]]
        except httpx.TimeoutException:
            answers = [BackendError(BackendErrorKind.TIMEOUT, "the fake host did not answer")]
            answers *= len(requests)
        return [
            (outcome, call_record(request, outcome, CallSource.NETWORK, started))
            for request, outcome in zip(requests, answers, strict=True)
        ]


def _call_document(request: BackendRequest) -> JsonObject:
    return {
        "service": request.service,
        "method": request.method,
        "path": request.path,
        "headers": [list(pair) for pair in request.headers],
        "body_base64": base64.b64encode(request.body).decode(),
        "timeout_ms": request.timeout_ms,
    }


def _outcome(answer: JsonObject) -> BackendOutcome:
    if "error" in answer:
        return BackendError(BackendErrorKind(answer["error"]), str(answer.get("message", "")))
    return BackendResponse(
        status=int(answer["status"]),
        headers=[(str(name), str(value)) for name, value in answer.get("headers", [])],
        body=base64.b64decode(answer.get("body_base64", "")),
    )


class ScriptRunner:
    """Runs one request of a script test in the sandbox; bundles are built once per script."""

    def __init__(self, engine: SandboxEngine, limits: Limits) -> None:
        self._engine = engine
        self._limits = limits
        self._bundles: dict[Path, bytes] = {}
        self._building = threading.Lock()

    def run(self, document: Mapping[str, Any]) -> JsonObject:
        bundle = self._bundle(Path(document["script"]).resolve())
        request = request_from_json({**document["request"], "endpoint": "local/test"})
        result = asyncio.run(
            invoke(
                self._engine,
                bundle,
                request,
                catalogue=Catalogue(),
                config={str(k): str(v) for k, v in document.get("config", {}).items()},
                limits=self._limits,
                backends=RelayedBackends(str(document["answers"])),
            )
        )
        return result_document(result)

    def _bundle(self, script: Path) -> bytes:
        with self._building:
            if script not in self._bundles:
                with tempfile.TemporaryDirectory(prefix="scripthost-test-") as scratch:
                    out = Path(scratch) / f"{script.stem}{BUNDLE_SUFFIX}"
                    self._bundles[script] = build_bundle(script, out).read_bytes()
            return self._bundles[script]


class _RunHandler(BaseHTTPRequestHandler):
    runner: ScriptRunner

    def do_POST(self) -> None:
        if self.path != "/run":
            self._reply(404, {"error": "not_found", "message": "POST /run"})
            return
        length = int(self.headers.get("content-length", "0"))
        try:
            document = json.loads(self.rfile.read(length))
            self._reply(200, self.runner.run(document))
        except BuildError as error:
            self._reply(422, {"error": "build_failed", "message": str(error)})
        except HostError as error:
            # What a deploy would refuse too: the bundle's runtime, its preparation.
            self._reply(error.status, {"error": error.code, "message": str(error)})
        except (KeyError, TypeError, ValueError) as error:
            self._reply(400, {"error": "bad_request", "message": repr(error)})

    def _reply(self, status: int, document: JsonObject) -> None:
        body = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests' own output is what the author reads."""


@contextmanager
def serving(runner: ScriptRunner) -> Iterator[str]:
    """Serve `runner` on a free loopback port for the duration; yields its URL."""
    handler = type("RunHandler", (_RunHandler,), {"runner": runner})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="script-runner", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
