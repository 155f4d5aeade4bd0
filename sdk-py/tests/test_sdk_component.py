"""Build a real component and run it in wasmtime: the guest-side glue end to end.

Slow (a build and a compile, ~20-40 s): `pytest -m "not slow"` skips it.
"""

import json
import random
import re
from dataclasses import dataclass, field
from typing import Any

import pytest
from scripthost_sdk.build import WIT_DIR, build

wasmtime = pytest.importorskip("wasmtime")
wc = pytest.importorskip("wasmtime.component")

pytestmark = pytest.mark.slow


def _abi_version() -> str:
    """The ABI version the SDK's WIT declares (`package scripthost:abi@X;`)."""
    found = re.search(r"package scripthost:abi@([\d.]+);", (WIT_DIR / "world.wit").read_text())
    assert found is not None
    return found[1]


ABI_VERSION = _abi_version()

SCRIPT = """
import random
import sys
from scripthost_sdk import BackendError, Request, Response, backend, config, json_response


def handle(req: Request) -> Response:
    mode = req.params.get("mode")
    if mode == "print":
        print("to stdout")
        print("to stderr", file=sys.stderr, end="")
    if mode == "raise":
        raise ValueError("kaboom")
    if mode == "import":
        import csv
    if mode == "recurse":
        return handle(req)
    if mode == "random":
        if req.params.get("seed"):
            random.seed(int(req.params["seed"]))
        return json_response([random.random(), random.randint(0, 10**9)])
    try:
        backend.get("profile", "/users/42")
    except BackendError as error:
        return json_response({"kind": error.kind, "greeting": config.get("greeting")}, status=502)
    return json_response({})
"""


@dataclass
class Run:
    result: dict[str, Any]
    logs: list[tuple[str, str, list[tuple[str, str]]]] = field(default_factory=list)


@pytest.fixture(scope="module")
def component(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    directory = tmp_path_factory.mktemp("component")
    (directory / "probe.py").write_text(SCRIPT)
    build(directory / "probe.py", directory / "probe.wasm")
    config = wasmtime.Config()
    config.consume_fuel = True
    engine = wasmtime.Engine(config)
    return engine, wc.Component.from_file(engine, str(directory / "probe.wasm"))


def run(component: Any, query: str, request_id: str = "x") -> Run:
    engine, compiled = component
    outcome = Run({})
    linker = wc.Linker(engine)
    with linker.root() as root:
        with root.add_instance(f"scripthost:abi/backend@{ABI_VERSION}") as backend:
            backend.add_func("call", lambda store, req: wc.Variant("unavailable", "refused"))
            backend.add_func("call-batch", lambda store, reqs: [])
        with root.add_instance(f"scripthost:abi/log@{ABI_VERSION}") as log:

            def write(store: Any, level: str, message: str, fields: Any) -> None:
                outcome.logs.append((level, message, list(fields)))

            log.add_func("write", write)
        with root.add_instance(f"scripthost:abi/config@{ABI_VERSION}") as config:
            config.add_func("get", lambda store, key: {"greeting": "Hello"}.get(key))
            config.add_func("get-all", lambda store: [("greeting", "Hello")])
    store = wasmtime.Store(engine)
    store.set_fuel(500_000_000)
    request = wc.Record()
    for name, value in {
        "method": "GET",
        "path": "/",
        "query": query,
        "headers": [],
        "body": b"",
    }.items():
        setattr(request, name, value)
    for name in ("endpoint", "version"):
        setattr(request, name, "x")
    setattr(request, "request-id", request_id)
    handle = linker.instantiate(store, compiled).get_func(store, "handle")
    result = handle(store, request)
    handle.post_return(store)
    if result.tag == "ok":
        body = json.loads(bytes(result.payload.body))
        outcome.result = {"status": result.payload.status, "body": body}
    else:
        outcome.result = {"kind": result.payload.kind, "message": result.payload.message}
    return outcome


def test_component_imports_only_the_abi(component: Any) -> None:
    engine, compiled = component
    assert set(compiled.type.imports(engine)) == {
        f"scripthost:abi/{name}@{ABI_VERSION}" for name in ("types", "backend", "log", "config")
    }


def test_backend_error_and_config_reach_the_script(component: Any) -> None:
    assert run(component, "").result == {
        "status": 502,
        "body": {"kind": "unavailable", "greeting": "Hello"},
    }


def test_print_goes_to_the_log(component: Any) -> None:
    assert run(component, "mode=print").logs == [
        ("info", "to stdout", [("stream", "stdout")]),
        ("error", "to stderr", [("stream", "stderr")]),
    ]


def test_uncaught_exception_is_a_guest_error_with_source_lines(component: Any) -> None:
    result = run(component, "mode=raise").result
    assert result["kind"] == "exception"
    assert 'File "probe.py", line 13, in handle\n    raise ValueError' in result["message"]
    assert result["message"].endswith("ValueError: kaboom")


def test_recursion_is_a_stack_overflow(component: Any) -> None:
    result = run(component, "mode=recurse").result
    assert result["kind"] == "stack-overflow"
    assert result["message"].endswith("RecursionError: maximum recursion depth exceeded")


def test_late_import_is_an_import_error_not_a_trap(component: Any) -> None:
    result = run(component, "mode=import").result
    assert result["kind"] == "exception"
    assert "import it at the top of the script" in result["message"]


def test_random_draws_from_the_request_id_or_the_scripts_own_seed(component: Any) -> None:
    def draws(query: str, request_id: str) -> list[float]:
        result = run(component, query, request_id).result
        assert result["status"] == 200, result
        drawn: list[float] = result["body"]
        return drawn

    first, second = draws("mode=random", "req-1"), draws("mode=random", "req-2")
    expected = random.Random(int.from_bytes(b"req-1", "big"))
    assert first == [expected.random(), expected.randint(0, 10**9)]
    assert second != first
    seeded = random.Random(7)
    assert draws("mode=random&seed=7", "req-1") == [seeded.random(), seeded.randint(0, 10**9)]
