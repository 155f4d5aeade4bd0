"""An endpoint's history as with an SCM: `log`, `diff` and `source` give back every file of a
multi-file script, with the commit it was built from."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.hosts import HostProcess
from tests.support.scripts import MULTI_JS

GIT = ["git", "-c", "user.name=Ann Author", "-c", "user.email=ann@example.com"]


def files_under(folder: Path) -> dict[str, str]:
    return {
        path.relative_to(folder).as_posix(): path.read_text()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(folder).parts
    }


def git(work: Path, *args: str) -> str:
    return subprocess.run(
        [*GIT, "-C", str(work), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """The multi-file script in a git work tree of its own, committed."""
    tree = tmp_path / "work"
    shutil.copytree(MULTI_JS.parent, tree)
    git(tree, "init", "-q", "-b", "main")
    git(tree, "add", "-A")
    git(tree, "commit", "-q", "-m", "greet")
    return tree


def test_log_diff_and_source_round_trip_every_file(
    host: HostProcess, work: Path, tmp_path: Path
) -> None:
    first = files_under(work)
    commit = git(work, "rev-parse", "HEAD")
    host.cli("deploy", str(work / "greet.js"), "--endpoint", "tv/greet", "-m", "first")
    (work / "lib" / "format.js").write_text(
        first["lib/format.js"].replace("Hello, ${name}!", "Hi ${name}")
    )
    second = files_under(work)
    host.cli("deploy", str(work / "greet.js"), "--endpoint", "tv/greet", "-m", "shorter")
    with host.device() as device:
        assert device.get("/tv/greet", params={"name": "Bo"}).json()["greeting"] == "Hi Bo"

    for version, files in (("v1", first), ("v2", second)):
        out = tmp_path / f"source-{version}"
        host.cli("source", "tv/greet", "--version", version, "-o", str(out))
        assert files_under(out) == files
    active = host.cli("source", "tv/greet").stdout
    assert all(f"==> {name} <==" in active for name in second)
    assert "Hi ${name}" in active

    diff = host.cli("diff", "tv/greet", "v1", "v2").stdout.splitlines()
    assert [line for line in diff if line.startswith(("---", "+++"))] == [
        "--- v1/lib/format.js",
        "+++ v2/lib/format.js",
    ]
    assert [line for line in diff if line.startswith(("-", "+")) and line[1:2] == " "] == [
        "-  return `Hello, ${name}!`;",
        "+  return `Hi ${name}`;",
    ]

    log = host.cli("log", "tv/greet").stdout.splitlines()
    added = [line for line in log if "version.added" in line]
    assert len(added) == 2
    assert "v2 shorter" in added[0]
    assert f"[{commit[:12]} dirty]" in added[0]
    assert "v1 first" in added[1]
    assert f"[{commit[:12]}]" in added[1]
    assert all("3 file(s)" in line for line in added)
