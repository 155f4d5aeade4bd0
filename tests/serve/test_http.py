"""HTTP itself, at the server: redirects, framing, the client's address and response size."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import wasmtime

from host.device import MAX_RESPONSE_HEADER_BYTES, MAX_RESPONSE_HEADERS
from tests.support.hosts import HostProcess

ECHO_WAT = Path(__file__).parent.parent / "sandbox" / "wat" / "echo.wat"


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, built: dict[str, Path]) -> Iterator[HostProcess]:
    served = HostProcess(tmp_path_factory.mktemp("http") / "host").start()
    javy_echo = bytes(wasmtime.wat2wasm(ECHO_WAT.read_text()))
    with served.admin() as admin:
        admin.put("/endpoints/tv/echo", json={"methods": ["GET"]}).raise_for_status()
        admin.post(
            "/endpoints/tv/echo/-/versions",
            files={"module": ("echo.wasm", javy_echo, "application/wasm")},
        ).raise_for_status()
    for endpoint in ("headers", "small"):
        served.cli("deploy", str(built["headers"]), "--endpoint", f"tv/{endpoint}")
    with served.admin() as admin:
        small = {"quotas": {"response_bytes": 2048}}
        admin.put("/endpoints/tv/small/-/quotas", json=small).raise_for_status()
    yield served
    served.stop()


def exchange(host: HostProcess, raw: bytes) -> tuple[list[bytes], bool]:
    """Send `raw` on one connection: the status lines that came back, and whether it closed."""
    received = b""
    closed = True
    with socket.create_connection(("127.0.0.1", host.port), timeout=5) as connection:
        connection.sendall(raw)
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except TimeoutError:
            closed = False
    return [line for line in received.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")], closed


def test_pipelined_requests_are_each_answered(host: HostProcess) -> None:
    first = b"GET /tv/echo HTTP/1.1\r\nHost: x\r\n\r\n"
    second = b"GET /tv/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    statuses, closed = exchange(host, first + second)
    assert [line.split()[1] for line in statuses] == [b"200", b"200"]
    assert closed


def test_content_length_with_transfer_encoding_is_refused_and_the_connection_closed(
    host: HostProcess,
) -> None:
    ambiguous = (
        b"GET /tv/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    smuggled = b"GET /tv/echo HTTP/1.1\r\nHost: x\r\n\r\n"
    statuses, closed = exchange(host, ambiguous + smuggled)
    assert [line.split()[1] for line in statuses] == [b"400"]
    assert closed


@pytest.mark.parametrize("path", ["/tv//echo", "/console//index.html"])
def test_no_path_redirects_to_a_host_the_client_names(host: HostProcess, path: str) -> None:
    response = httpx.get(f"{host.url}{path}", headers={"Host": "evil.example"})
    assert "location" not in response.headers
    assert response.status_code == 404


def test_the_console_redirect_stays_on_the_host(host: HostProcess) -> None:
    response = httpx.get(f"{host.url}/console", headers={"Host": "evil.example"})
    assert response.is_redirect
    assert response.headers["location"] == "/console/"


def test_a_javy_script_sees_the_connections_address_not_a_header_claiming_one(
    host: HostProcess,
) -> None:
    with host.device() as device:
        response = device.get("/tv/echo", headers={"Remote-Addr": "203.0.113.9"})
    assert response.status_code == 200
    assert json.loads(response.content)["headers"]["remote-addr"] == "127.0.0.1"


def flood(host: HostProcess, endpoint: str, count: int, size: int = 8) -> httpx.Response:
    with host.device() as device:
        return device.get(f"/tv/{endpoint}", params={"count": count, "size": size})


def assert_output_exceeded(response: httpx.Response) -> None:
    assert response.status_code == 502, response.text
    assert response.json()["error"] == "output_exceeded"
    assert not any(name.startswith("x-flood-") for name in response.headers)


def test_response_headers_are_capped_in_number(host: HostProcess) -> None:
    # The SDK adds content-type to the script's own headers.
    most = flood(host, "headers", MAX_RESPONSE_HEADERS - 1)
    assert most.status_code == 200
    assert sum(name.startswith("x-flood-") for name in most.headers) == MAX_RESPONSE_HEADERS - 1
    assert_output_exceeded(flood(host, "headers", MAX_RESPONSE_HEADERS))


def test_response_headers_are_capped_in_bytes(host: HostProcess) -> None:
    assert flood(host, "headers", 10, size=MAX_RESPONSE_HEADER_BYTES // 20).status_code == 200
    assert_output_exceeded(flood(host, "headers", 10, size=MAX_RESPONSE_HEADER_BYTES // 8))


def test_headers_count_against_the_response_size_quota(host: HostProcess) -> None:
    # tv/small may answer 2048 bytes: its body alone is a dozen.
    assert flood(host, "small", 0).status_code == 200
    assert_output_exceeded(flood(host, "small", 10, size=300))


def test_a_request_id_is_kept_only_when_it_is_plain(host: HostProcess) -> None:
    with host.device() as device:
        plain = device.get("/tv/echo", headers={"x-request-id": "trace-42"})
        odd = device.get("/tv/echo", headers=[(b"x-request-id", b"trace\x9b42")])
        long = device.get("/tv/echo", headers={"x-request-id": "x" * 129})
    assert plain.headers["x-request-id"] == "trace-42"
    for response in (odd, long):
        assert response.status_code == 200
        assert len(response.headers["x-request-id"]) == 32


@pytest.mark.parametrize("chunked", [False, True])
def test_a_device_body_over_the_limit_is_refused(host: HostProcess, chunked: bool) -> None:
    with host.admin() as admin:
        admin.put("/endpoints/tv/echo", json={"methods": ["GET", "POST"]}).raise_for_status()
    body = b"x" * (4 << 20)
    content = iter([body[: 1 << 20], body[1 << 20 :]]) if chunked else body
    with host.device() as device:
        refused = device.post("/tv/echo", content=content)
        fits = device.post("/tv/echo", content=b"x" * 1000)
    assert refused.status_code == 413
    assert refused.json()["error"] == "request_too_large"
    assert fits.status_code == 200
    assert json.loads(fits.content)["body"] == "x" * 1000
