"""The home script against every conformance vector, on the host's CPython.

This checks the script's logic in milliseconds with a FakeHost standing in for the
backends; tests/abi/test_conformance.py runs the built component against the real
example backend.
"""

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote

import pytest
from scripthost_sdk import BackendError, BackendRequest, BackendResponse, Request, Response
from scripthost_sdk.testing import BackendAnswer, FakeHost

HERE = Path(__file__).parent
VECTORS = json.loads((HERE.parents[1] / "abi" / "conformance" / "home.json").read_text())

# The example backend's data, as abi/conformance/README.md describes it.
USERS = {
    "42": {"id": "42", "name": "Ada", "plan": "premium"},
    "7": {"id": "7", "name": "Linus", "plan": "basic"},
}
RECOMMENDATIONS = {
    "42": [
        {"id": "m1", "title": "Arrival"},
        {"id": "m2", "title": "Dune"},
        {"id": "m3", "title": "Heat"},
    ],
    "7": [{"id": "m4", "title": "Alien"}],
}


def load_handle() -> Callable[[Request], Response]:
    spec = importlib.util.spec_from_file_location("home", HERE / "home.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return cast(Callable[[Request], Response], module.handle)


def example_backend(call: BackendRequest) -> BackendAnswer:
    """What examples/backend answers, without the HTTP."""
    kind, _, user = call.path.strip("/").partition("/")
    user = unquote(user)
    if call.service == "profile" and kind == "users":
        if user in USERS:
            return BackendResponse(200, body=json.dumps(USERS[user]).encode())
        return BackendResponse(404, body=b'{"error": "no such user"}')
    if call.service == "recommendations" and kind == "for":
        return BackendResponse(
            200, body=json.dumps({"items": RECOMMENDATIONS.get(user, [])}).encode()
        )
    return BackendError("not-allowed", call.path)


def vector_backends(backends: dict[str, str]) -> Callable[[BackendRequest], BackendAnswer]:
    def answer(call: BackendRequest) -> BackendAnswer:
        if backends[call.service] == "down":
            return BackendError("unavailable", "connection refused")
        return example_backend(call)

    return answer


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: str(v["name"]))
def test_vector(vector: dict[str, Any]) -> None:
    handle = load_handle()
    sent = vector["request"]
    request = Request(
        method=sent["method"],
        path=sent["path"],
        query=sent["query"],
        headers=[(name, value) for name, value in sent["headers"]],
        body=sent["body"].encode(),
    )
    with FakeHost(config=VECTORS["config"], handler=vector_backends(vector["backends"])) as host:
        response = handle(request)

    expect = vector["expect"]
    assert response.status == expect["status"]
    assert dict(response.headers).items() >= expect["headers"].items()
    assert json.loads(response.body) == expect["json"]
    assert len(host.batches) <= 1
    assert host.calls == [call for batch in host.batches for call in batch]
