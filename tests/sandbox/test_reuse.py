"""Instance reuse (opt-in): state carries over within an endpoint version, never beyond,
for components and for bundles on the shared runtimes alike."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from host.build import build_all_cached
from host.failures import FailureClass
from host.sandbox import CompiledModule, Limits, RunResult, Sandbox, ScriptRequest
from tests.support.runs import run_once

SCRIPTS = Path(__file__).parent / "scripts"
SOURCES = {"js": SCRIPTS / "js" / "counter.js", "py": SCRIPTS / "py" / "counter.py"}
COUNTERS = [f"{language} {form}" for language in SOURCES for form in ("component", "bundle")]


@pytest.fixture(scope="module")
def counters(
    compile_file: Callable[[Path], CompiledModule], bundled: Callable[[Path], CompiledModule]
) -> dict[str, CompiledModule]:
    built = build_all_cached(SOURCES.values())
    components = {
        f"{language} component": compile_file(path)
        for language, path in zip(SOURCES, built, strict=True)
    }
    bundles = {f"{language} bundle": bundled(source) for language, source in SOURCES.items()}
    return {**components, **bundles}


async def serve(
    sandbox: Sandbox,
    module: CompiledModule,
    reuse: int,
    *,
    version: str = "v1",
    endpoint: str = "tests/counter",
    query: str = "",
    request_id: str = "req",
    timeout_ms: int = 2_000,
) -> RunResult:
    request = ScriptRequest(
        "GET", "/", query, endpoint=endpoint, version=version, request_id=request_id
    )
    limits = Limits(reuse=reuse, fuel=50_000_000, timeout_ms=timeout_ms)
    return await run_once(sandbox, module, request, limits=limits)


def served(result: RunResult) -> int:
    assert result.response is not None, result.failure_message
    count: int = json.loads(result.response.body)["served"]
    return count


@pytest.mark.parametrize("language", sorted(COUNTERS))
async def test_a_fresh_instance_per_request_by_default(
    sandbox: Sandbox, counters: dict[str, CompiledModule], language: str
) -> None:
    counts = [served(await serve(sandbox, counters[language], reuse=1)) for _ in range(3)]
    assert counts == [1, 1, 1]


@pytest.mark.parametrize("language", sorted(COUNTERS))
async def test_an_instance_serves_up_to_reuse_requests(
    sandbox: Sandbox, counters: dict[str, CompiledModule], language: str
) -> None:
    results = [await serve(sandbox, counters[language], reuse=3) for _ in range(7)]
    assert [served(r) for r in results] == [1, 2, 3, 1, 2, 3, 1]
    # Fuel is counted per request, not summed over the instance's life.
    assert results[2].fuel_used < 2 * results[1].fuel_used


@pytest.mark.parametrize("language", sorted(COUNTERS))
async def test_never_across_versions(
    sandbox: Sandbox, counters: dict[str, CompiledModule], language: str
) -> None:
    module = counters[language]
    first = served(await serve(sandbox, module, reuse=10, version="v7"))
    other = served(await serve(sandbox, module, reuse=10, version="v8"))
    again = served(await serve(sandbox, module, reuse=10, version="v7"))
    assert (first, other, again) == (1, 1, 2)


@pytest.mark.parametrize("language", sorted(COUNTERS))
async def test_never_across_endpoints(
    sandbox: Sandbox, counters: dict[str, CompiledModule], language: str
) -> None:
    module = counters[language]
    first = served(await serve(sandbox, module, reuse=10, endpoint="tests/one", version="v9"))
    other = served(await serve(sandbox, module, reuse=10, endpoint="tests/two", version="v9"))
    again = served(await serve(sandbox, module, reuse=10, endpoint="tests/one", version="v9"))
    assert (first, other, again) == (1, 1, 2)


@pytest.mark.parametrize("language", sorted(COUNTERS))
async def test_each_reused_request_gets_a_fresh_deadline(
    sandbox: Sandbox, counters: dict[str, CompiledModule], language: str
) -> None:
    module = counters[language]
    first = await serve(sandbox, module, reuse=10, version="v-deadline", timeout_ms=300)
    # Long past the first request's deadline: the instance's next request must
    # run on a deadline of its own, not be interrupted at once.
    await asyncio.sleep(0.6)
    second = await serve(sandbox, module, reuse=10, version="v-deadline", timeout_ms=300)
    assert (served(first), served(second)) == (1, 2)


@pytest.mark.parametrize("language", sorted(COUNTERS))
async def test_a_failed_instance_is_thrown_away(
    sandbox: Sandbox, counters: dict[str, CompiledModule], language: str
) -> None:
    module = counters[language]
    assert served(await serve(sandbox, module, reuse=10, version="v-fail")) == 1
    failed = await serve(sandbox, module, reuse=10, version="v-fail", query="fail=1")
    assert failed.failure is FailureClass.GUEST_ERROR
    assert served(await serve(sandbox, module, reuse=10, version="v-fail")) == 1


@pytest.mark.parametrize("language", sorted(COUNTERS))
async def test_output_lands_in_the_log_of_the_request_that_wrote_it(
    sandbox: Sandbox, counters: dict[str, CompiledModule], language: str
) -> None:
    module = counters[language]
    results = [
        await serve(sandbox, module, reuse=10, version="v-log", request_id=f"req-{n}")
        for n in range(3)
    ]
    for n, result in enumerate(results):
        assert [line.message.strip() for line in result.logs] == [f"serving req-{n}"]
