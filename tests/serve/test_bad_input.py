"""Bad uploads and bad callers get a specific 4xx with a JSON error, and nothing stored changes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import wasmtime

from host.sandbox._shape import MAX_FUNCTIONS
from tests.support.components import command_with_functions, handle_component
from tests.support.hosts import ADMIN_TOKEN, MUSIC_TOKEN, TV_TOKEN, HostProcess, example_backends

MAX_UPLOAD_MB = 16


def component_importing(*interfaces: str) -> bytes:
    imports = " ".join(f'(import "{name}" (instance))' for name in interfaces)
    return bytes(wasmtime.wat2wasm(f"(component {imports})"))


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory, example_backend: str) -> Iterator[HostProcess]:
    served = HostProcess(
        tmp_path_factory.mktemp("bad-input") / "host",
        backends=example_backends(example_backend),
        extra_args=["--max-upload-mb", str(MAX_UPLOAD_MB)],
    ).start()
    yield served
    served.stop()


@pytest.fixture(scope="module")
def deployed(host: HostProcess, built: dict[str, Path]) -> HostProcess:
    host.cli("deploy", str(built["js"]), "--endpoint", "tv/home", "--config", "greeting=Hi")
    return host


def stored_state(host: HostProcess) -> dict[str, Any]:
    with host.admin() as admin:
        return {
            "endpoints": admin.get("/endpoints").json(),
            "versions": admin.get("/endpoints/tv/home/-/versions").json(),
            "audit": admin.get("/audit").json(),
            "blobs": sorted(
                str(p.relative_to(host.data_dir))
                for p in (host.data_dir / "registry-blobs").rglob("*")
            ),
        }


def upload(
    host: HostProcess, module: bytes, token: str | None = TV_TOKEN, endpoint: str = "tv/home"
) -> httpx.Response:
    with host.admin(token) as admin:
        return admin.post(
            f"/endpoints/{endpoint}/-/versions",
            files={"module": ("module.wasm", module, "application/wasm")},
            data={"message": "bad"},
        )


Attempt = Callable[[HostProcess, dict[str, Path]], httpx.Response]


def _garbage(host: HostProcess, built: dict[str, Path]) -> httpx.Response:
    return upload(host, b"this is not webassembly at all" * 100)


def _truncated(host: HostProcess, built: dict[str, Path]) -> httpx.Response:
    whole = built["js"].read_bytes()
    return upload(host, whole[: len(whole) // 2])


def _sockets(host: HostProcess, built: dict[str, Path]) -> httpx.Response:
    return upload(host, component_importing("wasi:sockets/tcp@0.2.0"))


def _unknown_interface(host: HostProcess, built: dict[str, Path]) -> httpx.Response:
    return upload(host, component_importing("acme:secrets/vault@1.0.0"))


def _uploads(module: bytes) -> Attempt:
    def attempt(host: HostProcess, built: dict[str, Path]) -> httpx.Response:
        return upload(host, module)

    return attempt


def _command(body: str) -> bytes:
    return bytes(wasmtime.wat2wasm(f"(module {body})"))


# Modules that compile but could never run: the host refuses them at upload.
_HANDLE_OF_THE_WRONG_TYPE = handle_component(
    handle_type='(param "req" $request) (result $response)'
)
_WASI_FUNCTION_OF_THE_WRONG_TYPE = handle_component(
    imports="""
      (import "wasi:clocks/monotonic-clock@0.2.0" (instance $clock
        (export "now" (func (result string)))))""",
    lowered="""
      (core func $now (canon lower (func $clock "now") (memory $mem) (realloc $realloc)))
      (core instance $host (export "now" (func $now)))""",
    core_imports='(import "host" "now" (func $now (param i32)))',
    body="(call $now (i32.const 1024))",
)
_WASI_PREVIEW1_OF_THE_WRONG_TYPE = _command(
    """(import "wasi_snapshot_preview1" "fd_write" (func (param i32) (result i32)))
       (memory (export "memory") 1) (func (export "_start"))"""
)
_START_IS_A_GLOBAL = _command(
    '(memory (export "memory") 1) (global (export "_start") i32 (i32.const 0))'
)
_START_TAKES_A_PARAMETER = _command(
    '(memory (export "memory") 1) (func (export "_start") (param i32))'
)
_TWO_MEMORIES = _command(
    '(memory (export "memory") 1) (memory (export "other") 1) (func (export "_start"))'
)


def _over_the_module_cap(host: HostProcess, built: dict[str, Path]) -> httpx.Response:
    return upload(host, b"\0asm\x0d\x00\x01\x00" + bytes(MAX_UPLOAD_MB << 20))


def _over_the_request_cap(host: HostProcess, built: dict[str, Path]) -> httpx.Response:
    return upload(host, bytes(3 * MAX_UPLOAD_MB << 20))


def _no_token(host: HostProcess, built: dict[str, Path]) -> httpx.Response:
    return upload(host, built["js"].read_bytes(), token=None)


def _wrong_token(host: HostProcess, built: dict[str, Path]) -> httpx.Response:
    return upload(host, built["js"].read_bytes(), token="not-a-token-anyone-was-given")


def _other_team(host: HostProcess, built: dict[str, Path]) -> httpx.Response:
    return upload(host, built["js"].read_bytes(), token=MUSIC_TOKEN)


def _put_endpoint(path: str) -> Attempt:
    def attempt(host: HostProcess, built: dict[str, Path]) -> httpx.Response:
        with host.admin(ADMIN_TOKEN) as admin:
            return admin.put(f"/endpoints/{path}", json={"methods": ["GET"]})

    return attempt


def _admin_put(path: str, token: str | None = ADMIN_TOKEN, **request: Any) -> Attempt:
    def attempt(host: HostProcess, built: dict[str, Path]) -> httpx.Response:
        with host.admin(token) as admin:
            return admin.put(path, **request)

    return attempt


def _endpoint_body(**fields: object) -> Attempt:
    return _admin_put("/endpoints/tv/home", json={"methods": ["GET"], **fields})


def _endpoint_quota(name: str, value: int) -> Attempt:
    return _admin_put("/endpoints/tv/home/-/quotas", json={"quotas": {name: value}})


def _raw_endpoint_body(body: bytes, token: str | None = ADMIN_TOKEN) -> Attempt:
    headers = {"content-type": "application/json"}
    return _admin_put("/endpoints/tv/home", token, content=body, headers=headers)


def _chunked_body(host: HostProcess, built: dict[str, Path]) -> httpx.Response:
    chunks = iter([b'{"methods": ["GET"]}'])
    with host.admin(ADMIN_TOKEN) as admin:
        return admin.put(
            "/endpoints/tv/home", content=chunks, headers={"content-type": "application/json"}
        )


def _message_with_an_escape(host: HostProcess, built: dict[str, Path]) -> httpx.Response:
    with host.admin(ADMIN_TOKEN) as admin:
        return admin.post(
            "/endpoints/tv/home/-/versions",
            files={"module": ("module.wasm", built["js"].read_bytes(), "application/wasm")},
            data={"message": "fine\x1b[2J"},
        )


NESTED = b'{"methods": ' + b"[" * 60_000 + b"]" * 60_000 + b"}"

CASES: dict[str, tuple[Attempt, int, str]] = {
    "garbage bytes": (_garbage, 422, "invalid_module"),
    "truncated component": (_truncated, 422, "invalid_module"),
    "imports wasi:sockets": (_sockets, 422, "module_rejected"),
    "imports an unknown interface": (_unknown_interface, 422, "module_rejected"),
    "handle of the wrong type": (_uploads(_HANDLE_OF_THE_WRONG_TYPE), 422, "module_rejected"),
    "WASI 0.2 function of the wrong type": (
        _uploads(_WASI_FUNCTION_OF_THE_WRONG_TYPE),
        422,
        "module_rejected",
    ),
    "WASI preview 1 function of the wrong type": (
        _uploads(_WASI_PREVIEW1_OF_THE_WRONG_TYPE),
        422,
        "module_rejected",
    ),
    "_start is a global": (_uploads(_START_IS_A_GLOBAL), 422, "module_rejected"),
    "_start takes a parameter": (_uploads(_START_TAKES_A_PARAMETER), 422, "module_rejected"),
    "two linear memories": (_uploads(_TWO_MEMORIES), 422, "module_rejected"),
    "more functions than a script may have": (
        _uploads(command_with_functions(MAX_FUNCTIONS + 1)),
        422,
        "module_rejected",
    ),
    "module over the size cap": (_over_the_module_cap, 413, "too_large"),
    "request over the size cap": (_over_the_request_cap, 413, "request_entity_too_large"),
    "no token": (_no_token, 401, "unauthorized"),
    "wrong token": (_wrong_token, 401, "unauthorized"),
    "another team's namespace": (_other_team, 403, "forbidden"),
    "dot-dot segment": (_put_endpoint("tv/%2E%2E/secrets"), 400, "bad_endpoint_name"),
    "encoded slash and dot-dot": (_put_endpoint("tv/a%2F..%2Fb"), 400, "bad_endpoint_name"),
    "odd characters": (_put_endpoint("tv/home$(reboot)"), 400, "bad_endpoint_name"),
    "space in a path": (_put_endpoint("tv/ho%20me"), 400, "bad_endpoint_name"),
    "upper-case namespace": (_put_endpoint("TV/home"), 400, "bad_endpoint_name"),
    "reserved namespace": (_put_endpoint("admin/home"), 400, "bad_endpoint_name"),
    "JSON nested 60,000 deep": (_raw_endpoint_body(NESTED), 400, "bad_request"),
    "JSON that is not UTF-8": (
        _raw_endpoint_body(b'{"methods": ["\xff\xfe"]}'),
        400,
        "bad_request",
    ),
    "JSON nested deep, and no token": (_raw_endpoint_body(NESTED, token=None), 401, "unauthorized"),
    "JSON without a length": (_chunked_body, 411, "length_required"),
    "method with CRLF": (_endpoint_body(methods=["GET\r\nX-Evil: 1"]), 400, "bad_request"),
    "method of 1 KB": (_endpoint_body(methods=["G" * 1024]), 400, "bad_request"),
    "method of 1 MB": (_endpoint_body(methods=["G" * (1 << 20)]), 413, "too_large"),
    "config value of 30 MiB": (_endpoint_body(config={"k": "v" * (30 << 20)}), 413, "too_large"),
    "config value of 17 KiB": (_endpoint_body(config={"k": "v" * (17 << 10)}), 400, "bad_request"),
    "config of 75 KiB in all": (
        _endpoint_body(config={f"k{n}": "v" * (15 << 10) for n in range(5)}),
        400,
        "bad_request",
    ),
    "config key with an escape": (_endpoint_body(config={"k\x1b": "v"}), 400, "bad_request"),
    "config value with an escape": (_endpoint_body(config={"k": "\x1b[2J"}), 400, "bad_request"),
    "fuel of 2**64": (_endpoint_quota("fuel", 2**64), 400, "bad_quota"),
    "memory of 2**64": (_endpoint_quota("memory_bytes", 2**64), 400, "bad_quota"),
    "timeout of a day": (_endpoint_quota("timeout_ms", 86_400_000), 400, "bad_quota"),
    "message with an escape": (_message_with_an_escape, 400, "bad_request"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_refused_with_a_json_error_and_nothing_stored(
    deployed: HostProcess, built: dict[str, Path], case: str
) -> None:
    attempt, status, error = CASES[case]
    before = stored_state(deployed)
    response = attempt(deployed, built)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error"] == error
    assert response.json()["message"]
    assert stored_state(deployed) == before


def test_the_stored_version_still_serves_after_every_refusal(
    deployed: HostProcess, built: dict[str, Path]
) -> None:
    for attempt, _, _ in CASES.values():
        attempt(deployed, built)
    with deployed.device() as device:
        answer = device.get("/tv/home", params={"user": "42"})
    assert answer.status_code == 200
    assert answer.json()["greeting"] == "Hi, Ada!"


def test_input_at_the_bounds_is_accepted(deployed: HostProcess) -> None:
    config = {"greeting": "Hi", "pem": "-----BEGIN-----\n\tline\r\n", "big": "v" * (16 << 10)}
    with deployed.admin() as admin:
        accepted = admin.put(
            "/endpoints/tv/bounds", json={"methods": ["get", "POST"], "config": config}
        )
        admin.delete("/endpoints/tv/bounds").raise_for_status()
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["methods"] == ["GET", "POST"]
    assert accepted.json()["config"] == config


def test_control_characters_from_the_network_reach_the_console_log_escaped(
    tmp_path: Path,
) -> None:
    served = HostProcess(tmp_path / "host", extra_args=["--log-format", "console"]).start()
    try:
        with httpx.Client(base_url=served.url) as client:
            refused = [
                client.put(f"/admin/v1/endpoints/tv/{name}", json={"methods": ["GET"]})
                for name in ("%1b%5b2Jgone", "%c2%9b31mred")
            ]
    finally:
        served.stop()
    log = served.log_path.read_text()
    assert [response.status_code for response in refused] == [401, 401]
    assert "\\x1b[2Jgone" in log
    assert "\\x9b31mred" in log
    assert "\x1b" not in log
    assert "\x9b" not in log
