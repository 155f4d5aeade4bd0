"""The backend service catalogue over HTTP: allow-lists, injected headers, no way out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.hosts import HostProcess


@pytest.fixture(scope="module")
def host(
    tmp_path_factory: pytest.TempPathFactory, example_backend: str, built: dict[str, Path]
) -> Iterator[HostProcess]:
    data_dir = tmp_path_factory.mktemp("catalogue")
    catalogue = data_dir / "catalogue.json"
    catalogue.write_text(
        json.dumps(
            {
                "services": [
                    {"name": "profile", "url": f"{example_backend}/profile", "allow": ["tv"]},
                    {
                        "name": "recommendations",
                        "url": f"{example_backend}/recommendations",
                        "allow": ["music"],
                    },
                    {
                        "name": "echo",
                        "url": example_backend,
                        "headers": {"X-API-Key": "injected-by-the-host"},
                        "allow": ["tv/reach"],
                    },
                ]
            }
        )
    )
    served = HostProcess(data_dir / "host", extra_args=["--catalogue", str(catalogue)]).start()
    served.cli("deploy", str(built["reach"]), "--endpoint", "tv/reach")
    served.cli("deploy", str(built["reach"]), "--endpoint", "tv/other")
    served.cli("deploy", str(built["js"]), "--endpoint", "tv/home")
    yield served
    served.stop()


def reach(
    host: HostProcess, service: str, path: str, endpoint: str = "reach", header: str = ""
) -> Any:
    params = {"service": service, "path": path, "header": header}
    with host.device() as device:
        response = device.get(f"/tv/{endpoint}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_an_allowed_service_answers(host: HostProcess) -> None:
    assert reach(host, "profile", "/users/42")["status"] == 200


def test_a_service_outside_the_allow_list_is_refused(host: HostProcess) -> None:
    assert reach(host, "recommendations", "/for/42") == {"error": "not-allowed"}
    assert reach(host, "echo", "/echo", endpoint="other") == {"error": "not-allowed"}


def test_an_unknown_service_is_named_as_such(host: HostProcess) -> None:
    assert reach(host, "metadata", "/latest") == {"error": "unknown-service"}


def test_the_allow_list_degrades_the_example_gracefully(host: HostProcess) -> None:
    with host.device() as device:
        home = device.get("/tv/home", params={"user": "42"}).json()
    assert home["degraded"] is True
    assert home["rows"] == []


def test_the_host_injects_the_service_headers(host: HostProcess) -> None:
    echoed = json.loads(reach(host, "echo", "/echo")["body"])
    assert echoed["headers"]["x-api-key"] == "injected-by-the-host"


def header_values(echoed: dict[str, Any], name: str) -> list[str]:
    return [value for key, value in echoed["header_lines"] if key == name]


def test_a_script_sends_headers_of_its_own(host: HostProcess) -> None:
    echoed = json.loads(reach(host, "echo", "/echo", header="x-trace:abc")["body"])
    assert header_values(echoed, "x-trace") == ["abc"]


def test_a_header_the_catalogue_injects_is_the_catalogues_alone(host: HostProcess) -> None:
    echoed = json.loads(reach(host, "echo", "/echo", header="x-api-key:from-the-script")["body"])
    assert header_values(echoed, "x-api-key") == ["injected-by-the-host"]


@pytest.mark.parametrize(
    "path",
    [
        "http://169.254.169.254/latest/meta-data",
        "//evil.example/x",
        "/../admin",
        "/%2e%2e/admin",
        "/@evil.example",
        "/users/42@evil.example",
        "https:/evil.example",
        "/x\\..\\admin",
    ],
)
def test_no_path_leads_outside_the_service(host: HostProcess, path: str) -> None:
    assert reach(host, "profile", path) == {"error": "not-allowed"}
