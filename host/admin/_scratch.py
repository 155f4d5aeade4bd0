"""Scratch runs: a bundle run once as an endpoint's version would run, never stored.

What `scripthost repl --url` sends each line as. It is a deploy's powers for
one request: the same token rights (the endpoint's namespace), the
endpoint's limits, config, allowed services and fair share of the sandbox,
and the bundle must be one the registry's runtimes accept. Nothing is
written: no version, no module, no audit entry beyond the log line.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

from host.device import run_module
from host.errors import BadRequest, HostError, TooLarge
from host.invoke import request_from_json, result_document
from host.logs import get_logger
from host.protect import Withdrawn
from host.sandbox import ModuleKind, module_kind
from host.state import host_state

log = get_logger("scripthost.scratch")

SCRATCH_VERSION = "scratch"


class NotServed(HostError):
    status = 404
    code = "not_found"


class Disabled(HostError):
    status = 503
    code = "disabled"


class Paused(HostError):
    status = 503
    code = "circuit_open"


async def run_scratch(
    namespace: str, path: str, bundle: bytes, request_json: str, actor: str
) -> dict[str, Any]:
    """`scripthost invoke`'s document for `bundle` run on `request_json` as NAMESPACE/PATH."""
    state = host_state()
    route = state.routes.lookup(namespace, path)
    if route is None:
        raise NotServed(f"no endpoint {namespace}{path} on this host")
    if not route.enabled:
        raise Disabled(f"{route.endpoint} is switched off")
    if len(bundle) > route.quotas.max_bundle_bytes:
        raise TooLarge(
            f"bundles in {namespace!r} may be at most {route.quotas.max_bundle_bytes} bytes"
        )
    if module_kind(bundle) is not ModuleKind.BUNDLE:
        raise BadRequest(
            "a scratch run takes a bundle (what `scripthost build SCRIPT` makes), not a module"
        )
    request = request_from_json(
        {
            **_request_document(request_json),
            "endpoint": route.endpoint,
            "version": SCRATCH_VERSION,
            "request_id": uuid.uuid4().hex,
        }
    )
    module = await state.loader.unstored(bundle, route.endpoint)
    scratch = dataclasses.replace(route, version=SCRATCH_VERSION)
    try:
        result = await run_module(state, scratch, module, request)
    except Withdrawn:
        raise Paused(f"{route.endpoint}'s circuit breaker opened while this run waited") from None
    log.info(
        "scratch run",
        endpoint=route.endpoint,
        actor=actor,
        outcome=result.outcome,
        fuel=result.fuel_used,
        request_id=request.request_id,
    )
    return result_document(result)


def _request_document(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except ValueError:
        raise BadRequest("request: not JSON") from None
    if not isinstance(document, dict):
        raise BadRequest("request: a JSON object {method, path, query, headers, body}")
    return document
