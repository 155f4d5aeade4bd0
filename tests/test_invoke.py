"""`scripthost invoke` as a user runs it: a subprocess, real components, a real backend."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from host.build import REPO_ROOT, build_all_cached, build_bundle

SCRIPTHOST = str(Path(sys.executable).parent / "scripthost")
EXAMPLES = {
    "js": REPO_ROOT / "examples" / "home-js" / "home.js",
    "python": REPO_ROOT / "examples" / "home-py" / "home.py",
}
THROWS = {
    "js": REPO_ROOT / "tests" / "sandbox" / "scripts" / "js" / "throw.js",
    "python": REPO_ROOT / "tests" / "sandbox" / "scripts" / "py" / "throw.py",
}
LOOPS = REPO_ROOT / "tests" / "sandbox" / "scripts" / "js" / "loop.js"


@pytest.fixture(scope="module")
def components() -> dict[str, Path]:
    sources = {
        **{f"{language} example": path for language, path in EXAMPLES.items()},
        **{f"{language} throws": path for language, path in THROWS.items()},
        "loop": LOOPS,
    }
    return dict(zip(sources, build_all_cached(sources.values()), strict=True))


def invoke(module: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCRIPTHOST, "invoke", str(module), *args], capture_output=True, text=True, check=False
    )


@pytest.mark.parametrize("form", ["component", "bundle"])
@pytest.mark.parametrize("language", sorted(EXAMPLES))
def test_the_example_answers_through_invoke(
    components: dict[str, Path], example_backend: str, language: str, form: str, tmp_path: Path
) -> None:
    module = (
        components[f"{language} example"]
        if form == "component"
        # A bundle runs on the runtime built here (the build made it).
        else build_bundle(EXAMPLES[language], tmp_path / "home.bundle")
    )
    completed = invoke(
        module,
        "--request",
        str(REPO_ROOT / "examples" / "request.json"),
        f"--backend=profile={example_backend}/profile",
        f"--backend=recommendations={example_backend}/recommendations",
        "--config",
        "greeting=Hello",
        "--config",
        "max_items=2",
    )
    assert completed.returncode == 0, completed.stderr
    printed = json.loads(completed.stdout)
    assert printed["outcome"] == "ok"
    assert printed["response"]["status"] == 200
    body = json.loads(printed["response"]["body"])
    assert body == {
        "greeting": "Hello, Ada!",
        "plan": "premium",
        "rows": [{"id": "m1", "title": "Arrival"}, {"id": "m2", "title": "Dune"}],
        "degraded": False,
    }
    assert printed["fuel_used"] > 0
    assert printed["wall_ms"] > 0
    assert [call["service"] for call in printed["backend_calls"]] == ["profile", "recommendations"]
    assert all(call["status"] == 200 for call in printed["backend_calls"])


@pytest.mark.parametrize("language", sorted(THROWS))
def test_a_failing_script_exits_non_zero_with_its_failure_class(
    components: dict[str, Path], language: str
) -> None:
    completed = invoke(components[f"{language} throws"])
    assert completed.returncode == 1
    assert completed.stderr.startswith("guest_error: ")
    printed = json.loads(completed.stdout)
    # As the SDK guides describe it: no response, and a failure that says why.
    assert printed["outcome"] == "guest_error"
    assert printed["response"] is None
    failure = printed["failure"]
    assert (failure["class"], failure["status"]) == ("guest_error", 500)
    assert failure["message"]
    assert THROWS[language].name in failure["guest_detail"]


@pytest.mark.parametrize(
    ("limits", "failure"),
    [
        (["--fuel", "1000000"], "fuel_exhausted"),
        (["--fuel", "10000000000000", "--timeout-ms", "150"], "timeout"),
    ],
)
def test_quota_options_are_honoured(
    components: dict[str, Path], limits: list[str], failure: str
) -> None:
    completed = invoke(components["loop"], *limits)
    assert completed.returncode == 1
    assert completed.stderr.startswith(f"{failure}: ")


def test_memory_option_is_honoured(components: dict[str, Path]) -> None:
    small = invoke(components["js example"], "--memory-mb", "4")
    assert small.returncode == 1
    assert small.stderr.startswith("memory_exceeded: ")


def test_an_invalid_module_is_one_readable_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.wasm"
    garbage.write_bytes(b"not wasm")
    completed = invoke(garbage)
    assert completed.returncode == 1
    assert completed.stderr.startswith("Error: ")
    assert "Traceback" not in completed.stderr


def test_a_bundle_whose_runtime_was_not_built_here_is_one_readable_error(tmp_path: Path) -> None:
    bundle = build_bundle(EXAMPLES["js"], tmp_path / "home.bundle")
    magic, header, payload = bundle.read_text().split("\n", 2)
    named = json.loads(header)
    named["runtime"]["sha256"] = "ab" * 32
    bundle.write_text(f"{magic}\n{json.dumps(named)}\n{payload}")
    completed = invoke(bundle)
    assert completed.returncode == 1
    assert "was not built here" in completed.stderr
    assert "Traceback" not in completed.stderr
