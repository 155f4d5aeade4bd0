"""`scripthost test`: a project's script tests in both languages, one JUnit report.

JavaScript tests (`*.test.js`, `*.test.mjs`) run on Node's test runner with
`@scripthost/sdk` and its `testing` FakeHost resolved to the SDK; Python tests
(`test_*.py`, `*_test.py`) run on pytest with `scripthost_sdk` importable.

The same tests can send their requests elsewhere: with a `Target`, the
`handle` a test imports from a script is replaced by one that runs the
script in the real sandbox (`host.script_runner`, the FakeHost answering its
backend calls) or sends the request to a deployed endpoint.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from host.build import sdk_js_dir

_SKIPPED_DIRS = {"node_modules", "__pycache__", ".venv", "venv"}
# Read by the SDKs' test support (sdk-js/test-support, scripthost_sdk.remote_testing).
_TARGET_VARIABLES = {"sandbox": "SCRIPTHOST_TEST_SANDBOX", "live": "SCRIPTHOST_TEST_LIVE"}


@dataclass(frozen=True)
class Target:
    """Where tests' requests go instead of the script in the test's own process:
    a script runner's URL (`sandbox`) or a deployed endpoint's URL (`live`)."""

    kind: Literal["sandbox", "live"]
    url: str

    def environment(self) -> dict[str, str]:
        return {_TARGET_VARIABLES[self.kind]: self.url}


@dataclass(frozen=True)
class TestFiles:
    js: list[Path]
    python: list[Path]


def find_tests(paths: Iterable[Path]) -> TestFiles:
    """The test files named, or found under the directories named."""
    files = sorted({found.resolve() for path in paths for found in _walk(path)})
    return TestFiles(
        js=[f for f in files if f.name.endswith((".test.js", ".test.mjs"))],
        python=[
            f
            for f in files
            if f.suffix == ".py" and (f.stem.startswith("test_") or f.stem.endswith("_test"))
        ],
    )


def _walk(path: Path) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    for child in path.iterdir():
        if child.is_dir() and not (child.name.startswith(".") or child.name in _SKIPPED_DIRS):
            yield from _walk(child)
        elif child.is_file():
            yield child


def run_tests(tests: TestFiles, junit_xml: Path | None, target: Target | None = None) -> int:
    """Run both languages' tests (output to this terminal); 0 when all passed."""
    environment = {
        name: value for name, value in os.environ.items() if name not in _TARGET_VARIABLES.values()
    }
    if target is not None:
        environment.update(target.environment())
    with tempfile.TemporaryDirectory(prefix="scripthost-test-") as scratch:
        reports: dict[str, Path] = {}
        status = 0
        if tests.js:
            reports["javascript"] = Path(scratch) / "js.xml"
            status |= _run_js(tests.js, reports["javascript"], environment)
        if tests.python:
            reports["python"] = Path(scratch) / "python.xml"
            status |= _run_python(tests.python, reports["python"], environment)
        if junit_xml is not None:
            merge_junit({name: r for name, r in reports.items() if r.exists()}, junit_xml)
    return 1 if status else 0


def _run_js(files: list[Path], report: Path, environment: dict[str, str]) -> int:
    node = shutil.which("node")
    if node is None:
        raise FileNotFoundError("JavaScript tests need Node.js 20+ on PATH")
    register = sdk_js_dir() / "test-support" / "register.js"
    command = [
        node,
        "--import",
        register.as_uri(),
        "--test",
        "--test-reporter=spec",
        "--test-reporter-destination=stdout",
        "--test-reporter=junit",
        f"--test-reporter-destination={report}",
        *map(str, files),
    ]
    return subprocess.run(command, env=environment, check=False).returncode


def _run_python(files: list[Path], report: Path, environment: dict[str, str]) -> int:
    # The tests' own directory decides the root, so no configuration of an
    # enclosing project (its plugins, its testpaths) changes what runs.
    root = Path(*_common_parts(files))
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:asyncio",
        "-p",
        "scripthost_sdk.remote_testing",
        "--rootdir",
        str(root),
        "-c",
        "/dev/null",
        f"--junit-xml={report}",
        *map(str, files),
    ]
    return subprocess.run(command, cwd=root, env=environment, check=False).returncode


def _common_parts(files: list[Path]) -> tuple[str, ...]:
    parts = files[0].parent.parts
    for file in files[1:]:
        shared = 0
        for a, b in zip(parts, file.parent.parts, strict=False):
            if a != b:
                break
            shared += 1
        parts = parts[:shared]
    return parts


def merge_junit(reports: dict[str, Path], out: Path) -> None:
    """One `<testsuites>` holding every report's suites, as CI servers read it.

    Node's reporter leaves top-level tests outside any suite; they become a
    suite named after their language.
    """
    merged = ElementTree.Element("testsuites")
    for language, report in reports.items():
        root = ElementTree.parse(report).getroot()
        children = list(root) if root.tag == "testsuites" else [root]
        merged.extend(child for child in children if child.tag == "testsuite")
        loose = [child for child in children if child.tag == "testcase"]
        if loose:
            merged.append(_suite_of(language, loose))
    ElementTree.ElementTree(merged).write(out, encoding="utf-8", xml_declaration=True)


def _suite_of(name: str, cases: list[ElementTree.Element]) -> ElementTree.Element:
    suite = ElementTree.Element(
        "testsuite",
        name=name,
        tests=str(len(cases)),
        failures=str(sum(1 for case in cases if case.find("failure") is not None)),
        errors="0",
        skipped=str(sum(1 for case in cases if case.find("skipped") is not None)),
        time=f"{sum(float(case.get('time', '0')) for case in cases):.6f}",
    )
    suite.extend(cases)
    return suite
