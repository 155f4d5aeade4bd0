"""Scripts as bundles on the shared runtimes: several files, packages, failures, traces.

Real runtimes built from the SDKs, real bundles, the real sandbox.
"""

from __future__ import annotations

import json
import resource
import shutil
import statistics
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from scripthost_sdk._script import RUNTIME_PYTHON
from wasmtime import component as wc

from host.build import REPO_ROOT, build_bundle, build_cached
from host.failures import FailureClass
from host.sandbox import (
    BundleRejected,
    CompiledModule,
    RunResult,
    Sandbox,
    ScriptRequest,
)
from tests.support.runs import request_context, run_once

MULTI = Path(__file__).parent / "scripts" / "multi"
Bundled = Callable[[Path], CompiledModule]


@pytest.fixture(scope="module")
def js_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The multi-file JavaScript script, next to the npm package it imports."""
    folder = tmp_path_factory.mktemp("js") / "script"
    shutil.copytree(MULTI / "js", folder)
    package = REPO_ROOT / "sdk-js" / "node_modules" / "base64-js"
    shutil.copytree(package, folder / "node_modules" / "base64-js")
    return folder / "home.js"


def request(query: str = "") -> ScriptRequest:
    return ScriptRequest("GET", "/home", query, endpoint="tests/multi", request_id="req-1")


def body(result: RunResult) -> object:
    assert result.response is not None, (result.failure_message, result.guest_detail)
    return json.loads(result.response.body)


async def test_a_js_script_of_several_files_and_an_npm_package_runs(
    sandbox: Sandbox, bundled: Bundled, js_home: Path
) -> None:
    result = await run_once(sandbox, bundled(js_home), request())
    assert body(result) == {"said": "HI!", "encoded": "AQID"}


async def test_a_python_script_of_several_modules_and_a_package_runs(
    sandbox: Sandbox, bundled: Bundled
) -> None:
    result = await run_once(sandbox, bundled(MULTI / "py" / "home.py"), request())
    assert body(result) == {"said": "HI!", "newer": True, "count": 1}


async def test_a_js_failure_names_the_authors_files_and_lines(
    sandbox: Sandbox, bundled: Bundled, js_home: Path
) -> None:
    result = await run_once(sandbox, bundled(js_home), request("fail=1"))
    assert result.failure is FailureClass.GUEST_ERROR
    assert "TypeError" in result.failure_message
    frames = result.guest_detail.splitlines()[1:]
    assert frames[:2] == ["shout@lib/shout.js:3", "handle@home.js:7"], result.guest_detail


async def test_a_python_failure_names_the_authors_files_and_lines(
    sandbox: Sandbox, bundled: Bundled
) -> None:
    result = await run_once(sandbox, bundled(MULTI / "py" / "home.py"), request("fail=1"))
    assert result.failure is FailureClass.GUEST_ERROR
    assert result.failure_message == "KeyError: 'nothing'"
    assert result.guest_detail.splitlines()[1:5] == [
        '  File "home.py", line 11, in handle',
        '    return json_response({"missing": helpers.look_up("nothing")})',
        '  File "helpers.py", line 7, in look_up',
        "    return TABLE[key]",
    ]


@pytest.mark.parametrize(
    ("name", "source", "frame"),
    [
        ("top.js", "const ready = null;\nready.go();\nexport function handle() {}\n", "top.js:2"),
        (
            "later.js",
            "await null;\nconst ready = null;\nready.go();\nexport function handle() {}\n",
            "later.js:3",
        ),
        (
            "top.py",
            "READY = None\nREADY.go()\n\n\ndef handle(req):\n    pass\n",
            'File "top.py", line 2, in <module>',
        ),
    ],
)
async def test_a_top_level_exception_fails_each_request_where_it_happened(
    sandbox: Sandbox, bundled: Bundled, tmp_path: Path, name: str, source: str, frame: str
) -> None:
    script = tmp_path / name
    script.write_text(source)
    module = bundled(script)
    for _ in range(2):
        result = await run_once(sandbox, module, request())
        assert result.failure is FailureClass.GUEST_ERROR
        assert frame in result.guest_detail, result.guest_detail
        assert "_runtime_world" not in result.guest_detail
        assert "importlib" not in result.guest_detail


async def test_a_js_script_with_top_level_await_serves_once_it_has_settled(
    sandbox: Sandbox, bundled: Bundled, tmp_path: Path
) -> None:
    script = tmp_path / "later.js"
    script.write_text(
        "import { json } from '@scripthost/sdk';\n"
        "const answer = await Promise.resolve(41);\n"
        "export function handle() {\n  return json({ answer: answer + 1 });\n}\n"
    )
    module = bundled(script)
    for _ in range(2):
        assert body(await run_once(sandbox, module, request())) == {"answer": 42}


async def test_the_engine_has_the_last_word_on_syntax(
    sandbox: Sandbox, runtimes: dict[str, CompiledModule], tmp_path: Path
) -> None:
    # esbuild accepts Unicode property escapes; SpiderMonkey in the runtime does not.
    script = tmp_path / "letters.js"
    script.write_text("export function handle() {\n  return /\\p{L}/u.test('a');\n}\n")
    payload = build_bundle(script, tmp_path / "letters.bundle").read_text().split("\n", 2)[2]
    runtime = runtimes["js"].code
    assert isinstance(runtime, wc.Component)

    with pytest.raises(BundleRejected, match=r"^letters\.js:2: SyntaxError"):
        sandbox.runtimes.prepare(runtime, payload)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("import yaml\n", r"^home\.py, line 1: no module named 'yaml'$"),
        ("def handle(req)\n", r"^home\.py, line 1: SyntaxError: "),
    ],
)
def test_the_python_runtime_refuses_what_it_cannot_run(
    sandbox: Sandbox, runtimes: dict[str, CompiledModule], source: str, problem: str
) -> None:
    # Made by hand: the SDK's bundler would refuse these before any runtime saw them.
    module = {"name": "home", "file": "home.py", "package": False, "source": source}
    payload = json.dumps({"entry": "home", "modules": [module]})
    runtime = runtimes["python"].code
    assert isinstance(runtime, wc.Component)

    with pytest.raises(BundleRejected, match=problem):
        sandbox.runtimes.prepare(runtime, payload)


async def test_the_bundler_reads_version_tests_as_the_runtimes_python_would(
    sandbox: Sandbox, bundled: Bundled, tmp_path: Path
) -> None:
    script = tmp_path / "version.py"
    script.write_text(
        "import sys\n\nfrom scripthost_sdk import json_response\n\n\n"
        "def handle(req):\n    return json_response(list(sys.version_info[:3]))\n"
    )
    result = await run_once(sandbox, bundled(script), request())
    assert tuple(body(result)) == RUNTIME_PYTHON  # type: ignore[arg-type]
    assert RUNTIME_PYTHON[:2] != sys.version_info[:2], "the host's own would prove nothing"


async def test_a_runtime_run_without_a_bundle_is_an_abi_violation(
    sandbox: Sandbox, runtimes: dict[str, CompiledModule]
) -> None:
    for runtime in runtimes.values():
        result = await run_once(sandbox, runtime, request())
        assert result.failure is FailureClass.ABI_VIOLATION, result.guest_detail
        assert "without a bundle" in result.failure_message


async def test_a_snapshots_objects_are_immortal_and_a_requests_are_not(
    sandbox: Sandbox, bundled: Bundled, compile_file: Callable[[Path], CompiledModule]
) -> None:
    """A request writes no reference count of an object the snapshot holds (see
    `scripthost_sdk._immortal`): in a component, the script's own objects are
    in the snapshot; on the runtime, the bundle is loaded at request time."""
    source = Path(__file__).parent / "scripts" / "py" / "immortal.py"
    component = await run_once(sandbox, compile_file(build_cached(source)), request())
    on_runtime = await run_once(sandbox, bundled(source), request())
    assert body(component) == {
        "script's module": True,
        "script's function": True,
        "script's constant": True,
        "standard library": True,
        "made by the request": False,
    }
    assert body(on_runtime) == {
        "script's module": False,
        "script's function": False,
        "script's constant": False,
        "standard library": True,
        "made by the request": False,
    }


def page_faults_of_a_fresh_instance(sandbox: Sandbox, module: CompiledModule, query: str) -> int:
    """Minor page faults of this thread while one fresh instance serves (the median of 5)."""
    counts = []
    for _ in range(5):
        before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
        served = request(query)
        result = sandbox.run_sync(module, served, request_context(served))
        counts.append(resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before)
        assert result.response is not None, result.failure_message
    return statistics.median_low(counts)


def test_a_fresh_python_runtime_puts_new_objects_on_few_new_pages(
    sandbox: Sandbox, bundled: Bundled
) -> None:
    """Every page of the snapshot an instance first writes costs the host a page
    fault. Before the runtime packed its heap (`_heap`), these 256 objects took
    ~95 more faults than none, most landing on a page of their own; packed, ~17."""
    module = bundled(Path(__file__).parent / "scripts" / "py" / "heap_pages.py")
    none = page_faults_of_a_fresh_instance(sandbox, module, "n=0")
    many = page_faults_of_a_fresh_instance(sandbox, module, "n=64")
    # 64 objects of each of 4 sizes side by side: ~16 pages of 4 KiB, and the list.
    assert many - none <= 48, (none, many)
