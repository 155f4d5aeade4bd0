"""`scripthost test`: a project's script tests in both languages, one JUnit report.

JavaScript tests (`*.test.js`, `*.test.mjs`) run on Node's test runner with
`@scripthost/sdk` and its `testing` FakeHost resolved to the SDK; Python tests
(`test_*.py`, `*_test.py`) run on pytest with `scripthost_sdk` importable.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from host.build import sdk_js_dir

_SKIPPED_DIRS = {"node_modules", "__pycache__", ".venv", "venv"}


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


def run_tests(tests: TestFiles, junit_xml: Path | None) -> int:
    """Run both languages' tests (output to this terminal); 0 when all passed."""
    with tempfile.TemporaryDirectory(prefix="scripthost-test-") as scratch:
        reports: dict[str, Path] = {}
        status = 0
        if tests.js:
            reports["javascript"] = Path(scratch) / "js.xml"
            status |= _run_js(tests.js, reports["javascript"])
        if tests.python:
            reports["python"] = Path(scratch) / "python.xml"
            status |= _run_python(tests.python, reports["python"])
        if junit_xml is not None:
            merge_junit({name: r for name, r in reports.items() if r.exists()}, junit_xml)
    return 1 if status else 0


def _run_js(files: list[Path], report: Path) -> int:
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
    return subprocess.run(command, check=False).returncode


def _run_python(files: list[Path], report: Path) -> int:
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
        "--rootdir",
        str(root),
        "-c",
        "/dev/null",
        f"--junit-xml={report}",
        *map(str, files),
    ]
    return subprocess.run(command, cwd=root, check=False).returncode


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
