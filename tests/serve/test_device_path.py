"""The device path `ANY /{namespace}/{path}`: routing refusals and script failures over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from registry import open_registry
from tests.support.hosts import HostProcess, example_backends


@pytest.fixture(scope="module")
def host(
    tmp_path_factory: pytest.TempPathFactory, example_backend: str, built: dict[str, Path]
) -> Iterator[HostProcess]:
    served = HostProcess(
        tmp_path_factory.mktemp("device") / "host", backends=example_backends(example_backend)
    ).start()
    served.cli("deploy", str(built["js"]), "--endpoint", "tv/home", "--method", "GET")
    served.cli("deploy", str(built["throw"]), "--endpoint", "tv/throws")
    served.cli("deploy", str(built["loop"]), "--endpoint", "tv/loops")
    yield served
    served.stop()


def test_an_unknown_endpoint_is_a_json_404(host: HostProcess) -> None:
    with host.device() as device:
        response = device.get("/tv/nowhere")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert response.json()["request_id"]


RESERVED = ("admin", "console", "metrics", "healthz", "readyz")


@pytest.fixture(scope="module")
def planted(host: HostProcess) -> str:
    """Endpoints under every reserved namespace, written straight into the host's registry
    (as another tool or an older host might have), running the module `tv/home` runs."""

    async def plant() -> None:
        registry = await open_registry(None, host.data_dir)
        try:
            (version,) = await registry.list_versions("tv", "/home")
            for namespace in (*RESERVED, "planted"):
                await registry.put_endpoint(namespace, "/x", methods=["GET"], actor="test")
                added = await registry.add_version(
                    namespace,
                    "/x",
                    language=version.language,
                    module_hash=version.module_hash,
                    author="test",
                )
                await registry.activate(namespace, "/x", added.id, actor="test")
        finally:
            await registry.close()

    asyncio.run(plant())
    # The control endpoint proves the planted ones reached the route table.
    host.wait_for_status("/planted/x", 200)
    return "/planted/x"


@pytest.mark.parametrize("namespace", RESERVED)
def test_reserved_prefixes_never_reach_a_script(
    host: HostProcess, planted: str, namespace: str
) -> None:
    with host.device() as device:
        control = device.get(planted, params={"user": "42"})
        response = device.get(f"/{namespace}/x", params={"user": "42"})
    assert control.json()["greeting"] == "Hi, Ada!"
    assert response.status_code == 404
    assert "greeting" not in response.text


@pytest.mark.parametrize("namespace", RESERVED)
def test_no_endpoint_can_be_created_under_a_reserved_prefix(
    host: HostProcess, namespace: str
) -> None:
    with host.admin() as admin:
        response = admin.put(f"/endpoints/{namespace}/y", json={"methods": ["GET"]})
    assert (response.status_code, response.json()["error"]) == (400, "bad_endpoint_name")


def test_a_method_the_endpoint_does_not_allow_is_405(host: HostProcess) -> None:
    with host.device() as device:
        response = device.delete("/tv/home")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()["error"] == "method_not_allowed"


def test_a_disabled_endpoint_is_503_with_retry_after(host: HostProcess) -> None:
    with host.admin() as admin:
        admin.put("/endpoints/tv/home/-/enabled", json={"enabled": False}).raise_for_status()
        with host.device() as device:
            disabled = device.get("/tv/home", params={"user": "42"})
        admin.put("/endpoints/tv/home/-/enabled", json={"enabled": True}).raise_for_status()
        with host.device() as device:
            enabled = device.get("/tv/home", params={"user": "42"})
    assert disabled.status_code == 503
    assert disabled.json()["error"] == "disabled"
    assert int(disabled.headers["retry-after"]) > 0
    assert enabled.status_code == 200


@pytest.mark.parametrize(
    ("endpoint", "status", "failure"),
    [("/tv/throws", 500, "guest_error"), ("/tv/loops", 503, "fuel_exhausted")],
)
def test_script_failures_get_the_abi_status(
    host: HostProcess, endpoint: str, status: int, failure: str
) -> None:
    with host.device() as device:
        response = device.get(endpoint, headers={"x-request-id": "req-failing-1"})
        after = device.get("/tv/home", params={"user": "42"})
    assert response.status_code == status
    assert response.headers["x-scripthost-failure"] == failure
    assert response.json()["error"] == failure
    assert response.json()["request_id"] == "req-failing-1"
    assert after.status_code == 200


def test_the_script_sees_the_path_below_the_namespace_and_the_request_id(
    host: HostProcess, built: dict[str, Path]
) -> None:
    host.cli("deploy", str(built["v2"]), "--endpoint", "tv/deep/path")
    with host.device() as device:
        response = device.get("/tv/deep/path", headers={"x-request-id": "req-42"})
    assert response.status_code == 200
    assert response.headers["x-request-id"] == "req-42"
    assert response.json()["version"] == "v1"
    assert response.json()["path"] == "/deep/path"
