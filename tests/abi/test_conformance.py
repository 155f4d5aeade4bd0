"""The ABI conformance vectors against the built example components of both languages.

Every vector runs through the real sandbox, with backends that are the real
example service on 127.0.0.1 ("example") or a closed port ("down").
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from host.backends import BackendGateway, Catalogue, Service
from host.build import REPO_ROOT, build_all_cached
from host.sandbox import (
    CompiledModule,
    Limits,
    RequestContext,
    Sandbox,
    SandboxEngine,
    ScriptRequest,
)
from tests.support.servers import closed_port_url

CONFORMANCE = json.loads((REPO_ROOT / "abi" / "conformance" / "home.json").read_text())
EXAMPLES = {
    "js": REPO_ROOT / "examples" / "home-js" / "home.js",
    "python": REPO_ROOT / "examples" / "home-py" / "home.py",
}


@pytest.fixture(scope="session")
def example_modules(sandbox_engine: SandboxEngine) -> dict[str, CompiledModule]:
    built = build_all_cached(EXAMPLES.values())
    return {
        language: sandbox_engine.compile(path.read_bytes())
        for language, path in zip(EXAMPLES, built, strict=True)
    }


@pytest.fixture(scope="session")
async def gateways(example_backend: str) -> AsyncIterator[dict[str, BackendGateway]]:
    """One gateway per way a vector wires its services (example or down)."""
    down = closed_port_url()
    made: dict[str, BackendGateway] = {}
    for vector in CONFORMANCE["vectors"]:
        wiring = vector["backends"]
        key = json.dumps(wiring, sort_keys=True)
        if key not in made:
            bases = {"example": example_backend, "down": down}
            made[key] = BackendGateway(
                Catalogue(
                    Service(service, f"{bases[where]}/{service}")
                    for service, where in wiring.items()
                )
            )
    yield made
    for gateway in made.values():
        await gateway.aclose()


def script_request(document: dict[str, Any]) -> ScriptRequest:
    return ScriptRequest(
        method=document["method"],
        path=document["path"],
        query=document["query"],
        headers=[(name, value) for name, value in document["headers"]],
        body=document["body"].encode(),
        endpoint="tv/home",
        version="v1",
        request_id="conformance",
    )


@pytest.mark.parametrize("language", sorted(EXAMPLES))
@pytest.mark.parametrize("vector", CONFORMANCE["vectors"], ids=lambda v: v["name"])
async def test_the_example_meets_the_vector(
    language: str,
    vector: dict[str, Any],
    sandbox: Sandbox,
    example_modules: dict[str, CompiledModule],
    gateways: dict[str, BackendGateway],
) -> None:
    limits = Limits()
    gateway = gateways[json.dumps(vector["backends"], sort_keys=True)]
    context = RequestContext(
        request_id="conformance",
        endpoint="tv/home",
        version="v1",
        limits=limits,
        deadline=time.monotonic() + limits.timeout_ms / 1000,
        config=CONFORMANCE["config"],
        backends=gateway,
    )
    result = await sandbox.run(
        example_modules[language], script_request(vector["request"]), context
    )
    assert result.failure is None, result.failure_message
    assert result.response is not None
    expected = vector["expect"]
    assert result.response.status == expected["status"]
    headers = dict(result.response.headers)
    for name, value in expected["headers"].items():
        assert headers[name].split(";")[0] == value
    assert json.loads(result.response.body) == expected["json"]
