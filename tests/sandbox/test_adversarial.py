"""Scripts that try to escape or exhaust the sandbox, in both languages, as real
components and as bundles on the shared runtimes.

Each must end in bounded time with its own failure class, and the next
request in the same process must succeed.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from host.build import build_all_cached
from host.failures import FailureClass
from host.sandbox import CompiledModule, Limits, Sandbox, ScriptRequest
from tests.support.runs import run_once

SCRIPTS = Path(__file__).parent / "scripts"
LANGUAGES = {"js": ".js", "py": ".py"}
# The default quotas, but a wall clock so long that only the quota each script
# attacks can stop it, however loaded the machine is.
NO_WALL_CLOCK = Limits(timeout_ms=60_000)
EXPECTED: dict[str, FailureClass] = {
    "loop": FailureClass.FUEL_EXHAUSTED,
    "alloc": FailureClass.MEMORY_EXCEEDED,
    "recursion": FailureClass.STACK_OVERFLOW,
    "stdout_flood": FailureClass.OUTPUT_EXCEEDED,
    "throw": FailureClass.GUEST_ERROR,
    "host_call_flood": FailureClass.FUEL_EXHAUSTED,
}
FORMS = ("component", "bundle")
CASES = [(language, name, form) for language in LANGUAGES for name in EXPECTED for form in FORMS]
Load = Callable[[str, str, str], CompiledModule]


def script(language: str, name: str) -> Path:
    return SCRIPTS / language / f"{name}{LANGUAGES[language]}"


@pytest.fixture(scope="module")
def components() -> dict[Path, Path]:
    sources = [script(lang, name) for lang in LANGUAGES for name in [*EXPECTED, "ok", "escape"]]
    sources.append(script("py", "wasi_calls"))
    return dict(zip(sources, build_all_cached(sources), strict=True))


@pytest.fixture(scope="module")
def load(
    components: dict[Path, Path],
    compile_file: Callable[[Path], CompiledModule],
    bundled: Callable[[Path], CompiledModule],
) -> Load:
    made: dict[tuple[str, str, str], CompiledModule] = {}

    def load_(language: str, name: str, form: str = "component") -> CompiledModule:
        key = (language, name, form)
        if key not in made:
            source = script(language, name)
            made[key] = compile_file(components[source]) if form == "component" else bundled(source)
        return made[key]

    return load_


@pytest.mark.parametrize(("language", "name", "form"), CASES)
async def test_adversarial_script_ends_in_its_class_and_the_host_keeps_serving(
    sandbox: Sandbox, load: Load, language: str, name: str, form: str
) -> None:
    result = await run_once(sandbox, load(language, name, form), limits=NO_WALL_CLOCK)
    assert result.failure is EXPECTED[name], (result.failure_message, result.guest_detail[-500:])
    assert result.status == EXPECTED[name].http_status
    after = await run_once(sandbox, load(language, "ok", form))
    assert after.failure is None, after.failure_message
    assert after.response is not None
    assert after.response.status == 200


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("language", LANGUAGES)
async def test_uncaught_exception_carries_the_guest_message(
    sandbox: Sandbox, load: Load, language: str, form: str
) -> None:
    result = await run_once(sandbox, load(language, "throw", form))
    assert "kaboom" in result.failure_message
    assert "kaboom" in result.guest_detail


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("language", LANGUAGES)
async def test_stdout_is_captured_into_the_request_log_and_capped(
    sandbox: Sandbox, load: Load, language: str, form: str
) -> None:
    limits = Limits(log_bytes=4096)
    result = await run_once(sandbox, load(language, "stdout_flood", form), limits=limits)
    assert result.failure is FailureClass.OUTPUT_EXCEEDED
    captured = sum(len(line.message) for line in result.logs)
    assert 0 < captured <= limits.log_bytes


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A server socket on 127.0.0.1 that scripts are asked to reach; it must see no one."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


def connections(server: socket.socket) -> int:
    accepted = 0
    while True:
        try:
            server.accept()[0].close()
        except BlockingIOError:
            return accepted
        accepted += 1


async def test_python_file_and_socket_attempts_are_refused_as_abi_violations(
    sandbox: Sandbox, load: Load, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    for query in (f"port={port}", f"via=socket&port={port}"):
        request = ScriptRequest("GET", "/", query, request_id="escape")
        result = await run_once(sandbox, load("py", "escape", "component"), request)
        assert result.failure is FailureClass.ABI_VIOLATION, result.guest_detail[-300:]
        assert "no access to" in result.failure_message
        assert result.response is None
    assert connections(listener) == 0


async def test_javascript_file_and_network_attempts_are_all_refused(
    sandbox: Sandbox, load: Load, listener: socket.socket
) -> None:
    port = listener.getsockname()[1]
    request = ScriptRequest("GET", "/", f"port={port}", request_id="escape")
    result = await run_once(sandbox, load("js", "escape", "component"), request)
    (logged,) = [line.fields for line in result.logs if line.message == "escape attempts"]
    outcomes = {name: json.loads(outcome) for name, outcome in logged.items()}
    assert set(outcomes) == {"require", "process", "deno", "fetch", "websocket", "xhr"}
    assert all(set(outcome) == {"refused"} for outcome in outcomes.values()), outcomes
    # The dynamic import of node:fs reaches the engine's filesystem stub, which
    # traps: the run ends there, with nothing read and nothing returned.
    assert result.response is None
    assert result.failure in {FailureClass.GUEST_ERROR, FailureClass.ABI_VIOLATION}
    assert "root:" not in result.guest_detail
    assert connections(listener) == 0
    after = await run_once(sandbox, load("js", "ok", "component"))
    assert after.failure is None


@pytest.mark.parametrize(
    ("attempt", "what"),
    [("clock", "read the clock"), ("random", "get random bytes"), ("file", "use the filesystem")],
)
async def test_python_reaching_for_wasi_it_lacks_says_what_it_tried(
    sandbox: Sandbox, load: Load, attempt: str, what: str
) -> None:
    request = ScriptRequest("GET", "/", f"try={attempt}", request_id="wasi")
    result = await run_once(sandbox, load("py", "wasi_calls", "component"), request)
    assert result.failure is FailureClass.ABI_VIOLATION, result.guest_detail[-300:]
    assert f"the script tried to {what}" in result.failure_message
