"""Run one request through a module locally (`scripthost invoke`)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from wasmtime import component as wc

from host.backends import BackendGateway, Catalogue
from host.build import find_runtime
from host.sandbox import (
    ABI_VERSION,
    BackendPort,
    CompiledModule,
    InvalidBundle,
    Limits,
    ModuleKind,
    RequestContext,
    RunResult,
    Sandbox,
    SandboxEngine,
    ScriptRequest,
    check_runtime,
    module_kind,
    on_runtime,
    parse_bundle,
)

RuntimeFinder = Callable[[str], Path | None]


def request_from_json(document: Mapping[str, Any]) -> ScriptRequest:
    """Read `{method, path, query, headers, body}` (body as UTF-8 text, or
    `body_base64`), all optional."""
    headers = document.get("headers", {})
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return ScriptRequest(
        method=str(document.get("method", "GET")).upper(),
        path=str(document.get("path", "/")),
        query=str(document.get("query", "")),
        headers=[(str(k).lower(), str(v)) for k, v in pairs],
        body=_body(document),
        endpoint=str(document.get("endpoint", "local/invoke")),
        version=str(document.get("version", "local")),
        request_id=str(document.get("request_id", uuid.uuid4().hex)),
    )


def _body(document: Mapping[str, Any]) -> bytes:
    if "body_base64" in document:
        return base64.b64decode(str(document["body_base64"]))
    return str(document.get("body", "")).encode()


async def invoke(
    engine: SandboxEngine,
    wasm: bytes,
    request: ScriptRequest,
    *,
    catalogue: Catalogue,
    config: Mapping[str, str],
    limits: Limits,
    runtimes: RuntimeFinder = find_runtime,
    backends: BackendPort | None = None,
) -> RunResult:
    """Run `request` through a module, or through a bundle on a runtime `runtimes` finds.

    Backend calls go to the catalogue's services, or to `backends` when given.
    """
    sandbox = Sandbox(engine, workers=1)
    gateway = BackendGateway(catalogue)
    try:
        module = load_for_invoke(engine, sandbox, wasm, runtimes)
        context = RequestContext(
            request_id=request.request_id,
            endpoint=request.endpoint,
            version=request.version,
            limits=limits,
            deadline=time.monotonic() + limits.timeout_ms / 1000,
            config=dict(config),
            backends=gateway if backends is None else backends,
        )
        return await sandbox.run(module, request, context)
    finally:
        await gateway.aclose()
        sandbox.close()


def load_for_invoke(
    engine: SandboxEngine, sandbox: Sandbox, data: bytes, runtimes: RuntimeFinder
) -> CompiledModule:
    """A module compiled, or a bundle prepared on its runtime (which must be built here)."""
    if module_kind(data) is not ModuleKind.BUNDLE:
        return engine.compile(data)
    bundle = parse_bundle(data, ABI_VERSION)
    path = runtimes(bundle.runtime.sha256)
    if path is None:
        raise InvalidBundle(
            f"{bundle.runtime.describe()} was not built here: run scripthost build on this machine"
        )
    runtime = engine.compile(path.read_bytes())
    assert isinstance(runtime.code, wc.Component)
    check_runtime(runtime.code, engine.engine)
    return on_runtime(runtime, bundle, sandbox.runtimes.prepare(runtime.code, bundle.payload))


def result_document(result: RunResult) -> dict[str, Any]:
    """The JSON `scripthost invoke` prints."""
    document: dict[str, Any] = {
        "response": None,
        "outcome": result.outcome,
        "fuel_used": result.fuel_used,
        "peak_memory_bytes": result.peak_memory_bytes,
        "wall_ms": result.wall_ms,
        "backend_calls": [
            {
                "service": call.service,
                "method": call.method,
                "path": call.path,
                "status": call.status,
                "error": call.error.value if call.error else None,
                "duration_ms": call.duration_ms,
                "source": call.source.value,
            }
            for call in result.backend_calls
        ],
        "logs": [
            {
                "level": line.level,
                "message": line.message,
                "fields": line.fields,
                "stream": line.stream,
            }
            for line in result.logs
        ],
    }
    if result.response is not None:
        document["response"] = {
            "status": result.response.status,
            "headers": [list(pair) for pair in result.response.headers],
            **body_fields(result.response.body),
        }
    else:
        document["failure"] = {
            "class": result.outcome,
            "status": result.status,
            "message": result.failure_message,
            "guest_detail": result.guest_detail,
        }
    return document


def body_fields(body: bytes) -> dict[str, str]:
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body_base64": base64.b64encode(body).decode()}


def read_request_file(path: Path | None) -> ScriptRequest:
    if path is None:
        return request_from_json({})
    return request_from_json(json.loads(path.read_text()))
