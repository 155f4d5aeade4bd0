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
        for endpoint, method in (("echo", "GET"), ("upload", "POST")):
            admin.put(f"/endpoints/tv/{endpoint}", json={"methods": [method]}).raise_for_status()
            admin.post(
                f"/endpoints/tv/{endpoint}/-/versions",
                files={"module": ("echo.wasm", javy_echo, "application/wasm")},
            ).raise_for_status()
    for endpoint in ("headers", "small"):
        served.cli("deploy", str(built["headers"]), "--endpoint", f"tv/{endpoint}")
    with served.admin() as admin:
        small = {"quotas": {"response_bytes": 2048}}
        admin.put("/endpoints/tv/small/-/quotas", json=small).raise_for_status()
    yield served
    served.stop()


Answer = tuple[int, dict[str, str], bytes]


def answers_in(received: bytes) -> tuple[list[Answer], bytes]:
    """The whole responses at the start of `received` (status, headers, body), and the rest.

    Each is framed by its Content-Length, as a client reads them: a body need
    not end with a line break.
    """
    answers: list[Answer] = []
    while b"\r\n\r\n" in received:
        head, _, rest = received.partition(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines)}
        length = int(headers.get("content-length", "0"))
        if len(rest) < length:
            break
        answers.append((int(status_line.split()[1]), headers, rest[:length]))
        received = rest[length:]
    return answers, received


def exchange(host: HostProcess, raw: bytes) -> tuple[list[int], bool]:
    """Send `raw` on one connection: the statuses that came back, and whether it closed."""
    received = b""
    closed = True
    with socket.create_connection(("127.0.0.1", host.port), timeout=5) as connection:
        connection.sendall(raw)
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except TimeoutError:
            closed = False
    answers, rest = answers_in(received)
    assert not rest
    return [status for status, _, _ in answers], closed


def answer_to(host: HostProcess, raw: bytes) -> Answer:
    """Send `raw` and read the first response to it.

    Only as much of `raw` as the host reads before answering need arrive: it
    is sent whole, and a host that waited for more than it was sent would
    never answer (the read times out).
    """
    with socket.create_connection(("127.0.0.1", host.port), timeout=30) as connection:
        connection.sendall(raw)
        received = b""
        while not (answers := answers_in(received)[0]):
            received += connection.recv(65536)
    return answers[0]


def test_a_declared_body_over_the_limit_is_refused_before_any_of_it_is_sent(
    host: HostProcess,
) -> None:
    raw = b"POST /tv/upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (2 << 20)
    status, headers, body = answer_to(host, raw)
    assert status == 413
    assert json.loads(body)["error"] == "request_too_large"
    assert headers["x-request-id"] == json.loads(body)["request_id"]


def test_a_chunked_body_over_the_limit_is_refused_before_it_ends(host: HostProcess) -> None:
    piece = b"x" * (64 << 10)
    chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
    head = b"POST /tv/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    # 1 MiB and one chunk more (the limit is 1 MiB), and no last chunk: the body never ends.
    status, _, body = answer_to(host, head + chunk * 17)
    assert status == 413
    assert json.loads(body)["error"] == "request_too_large"


def test_a_body_within_the_limit_is_read_whole(host: HostProcess) -> None:
    piece = b"y" * (8 << 10)
    chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
    head = b"POST /tv/upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    status, _, body = answer_to(host, head + chunk * 8 + b"0\r\n\r\n")
    assert status == 200
    assert json.loads(body)["body"] == "y" * (8 * len(piece))


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        ("GET /tv/nowhere", 404),
        ("GET /nowhere", 404),
        ("GET /tv//echo", 404),
        ("DELETE /tv/echo", 405),
        ("GET /tv/echo", 200),
        ("GET /admin/v1/nowhere", 404),
        ("GET /admin/v1/endpoints", 401),
        ("GET /healthz", 200),
        ("GET /console/nowhere.js", 404),
    ],
)
def test_every_response_carries_the_request_id(
    host: HostProcess, request_line: str, status: int
) -> None:
    raw = f"{request_line} HTTP/1.1\r\nHost: x\r\nx-request-id: every-{status}\r\n\r\n"
    answered, headers, _ = answer_to(host, raw.encode())
    assert answered == status
    assert headers["x-request-id"] == f"every-{status}"


def test_a_refusal_of_its_framing_carries_the_request_id(host: HostProcess) -> None:
    raw = (
        b"POST /tv/upload HTTP/1.1\r\nHost: x\r\nx-request-id: framed\r\n"
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    )
    status, headers, body = answer_to(host, raw)
    assert status == 400
    assert headers["x-request-id"] == json.loads(body)["request_id"] == "framed"


def test_pipelined_requests_are_each_answered(host: HostProcess) -> None:
    first = b"GET /tv/echo HTTP/1.1\r\nHost: x\r\n\r\n"
    second = b"GET /tv/echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    statuses, closed = exchange(host, first + second)
    assert statuses == [200, 200]
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
    assert statuses == [400]
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
    # The body was not read to its end: the client must not reuse the connection.
    assert refused.headers["connection"] == "close"
    assert fits.status_code == 200
    assert json.loads(fits.content)["body"] == "x" * 1000


@pytest.mark.parametrize("path", ["/tv/echo", "/tv/nowhere", "/admin/v1/endpoints", "/healthz"])
def test_a_websocket_handshake_is_refused_with_the_error_shape(
    host: HostProcess, path: str
) -> None:
    raw = (
        f"GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "x-request-id: upgrade-1\r\n\r\n"
    )
    status, headers, body = answer_to(host, raw.encode())
    assert status == 400
    assert json.loads(body) == {
        "error": "websocket_not_served",
        "message": "this host serves HTTP requests, not WebSockets",
        "request_id": "upgrade-1",
    }
    assert headers["x-request-id"] == "upgrade-1"
    assert "Error in ASGI Framework" not in host.log_path.read_text()
