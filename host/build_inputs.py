"""What a version is built from: the script's source files, the SDK and runtime that built
it, and the git commit of its work tree.

`scripthost deploy` gathers them (`collect`) and uploads them with the
module; the host checks them (`BuildInputs`) and keeps them with the
version, so `scripthost log`, `diff` and `source` can show and give back
every file a version was built from.

- Files: the ones the build reads. For JavaScript, esbuild's own account
  of a bundle (its metafile), without the SDK and `node_modules`; for
  Python, the modules under the script's folder that it imports
  (`modulefinder`). Paths are relative to the folder that holds them all.
- Dirty: the work tree has uncommitted changes to tracked files, or an
  input is not tracked; either way the commit alone does not rebuild it.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import modulefinder
import os
import platform
import re
import shutil
import subprocess
import tempfile
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, Field, model_validator

from host.build import REPO_ROOT, BuildError, language_of
from registry import BuildRecord

MAX_FILES = 256
MAX_FILES_BYTES = 3 * 1024 * 1024
MAX_PATH_CHARS = 256
_GIT_TIMEOUT_S = 10.0
_SEGMENT = re.compile(r"^[A-Za-z0-9_.@+-]{1,128}$")


def relative_path(path: str) -> str:
    """A path inside a version's files: relative, `/`-separated, never leaving its folder."""
    parts = path.split("/")
    if not all(_SEGMENT.match(part) and part not in {".", ".."} for part in parts):
        raise ValueError(f"{path!r} is not a relative path of letters, digits and '_.@+-'")
    return path


RelativePath = Annotated[str, Field(max_length=MAX_PATH_CHARS), AfterValidator(relative_path)]
Short = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\x20-\x7e]+$")]


class ToolVersion(BaseModel, extra="forbid"):
    name: Short
    version: Short


class GitState(BaseModel, extra="forbid"):
    commit: str = Field(pattern=r"^[0-9a-f]{40}([0-9a-f]{24})?$")
    dirty: bool
    branch: Short | None = None


class BuildInputs(BaseModel, extra="forbid"):
    """What `scripthost deploy` sends beside a module built from a script."""

    entry: RelativePath
    files: dict[RelativePath, str] = Field(min_length=1, max_length=MAX_FILES)
    sdk: ToolVersion | None = None
    runtime: ToolVersion | None = None
    tools: dict[Short, Short] = Field(default_factory=dict, max_length=16)
    git: GitState | None = None

    @model_validator(mode="after")
    def _entry_and_size(self) -> Self:
        if self.entry not in self.files:
            raise ValueError(f"the entry {self.entry!r} is not one of the files")
        size = sum(len(text.encode()) for text in self.files.values())
        if size > MAX_FILES_BYTES:
            raise ValueError(f"a version's files add up to at most {MAX_FILES_BYTES} bytes")
        return self

    def record(self, language: str) -> BuildRecord:
        """What the registry keeps: the files, and facts about them and the build."""
        info: dict[str, Any] = {
            "entry": self.entry,
            "language": language,
            "files": {
                path: {"sha256": hashlib.sha256(text.encode()).hexdigest(), "bytes": len(text)}
                for path, text in sorted(self.files.items())
            },
            **self.model_dump(include={"sdk", "runtime", "tools", "git"}),
        }
        return BuildRecord(info=info, files=dict(sorted(self.files.items())))


def collect(script: Path) -> BuildInputs:
    """The inputs of building `script`, as `scripthost deploy` uploads them."""
    script = script.resolve()
    language = language_of(script)
    inputs = _js_inputs(script) if language == "js" else _python_inputs(script)
    root = Path(os.path.commonpath([path.parent for path in inputs]))
    files = {path.relative_to(root).as_posix(): path.read_text() for path in inputs}
    sdk, runtime, tools = _js_toolchain() if language == "js" else _python_toolchain()
    return BuildInputs(
        entry=script.relative_to(root).as_posix(),
        files=files,
        sdk=sdk,
        runtime=runtime,
        tools=tools,
        git=git_state(script.parent, inputs),
    )


def _sdk_js() -> Path:
    return Path(os.environ.get("SCRIPTHOST_SDK_JS", REPO_ROOT / "sdk-js"))


def _js_inputs(script: Path) -> list[Path]:
    """Every file esbuild reads to bundle the script, less the SDK and installed packages."""
    esbuild = _sdk_js() / "node_modules" / ".bin" / "esbuild"
    if not esbuild.exists():
        raise BuildError(f"esbuild is missing: run npm ci in {_sdk_js()}")
    with tempfile.TemporaryDirectory(prefix="scripthost-inputs-") as work:
        meta = Path(work) / "meta.json"
        completed = subprocess.run(
            [
                str(esbuild),
                script.name,
                "--bundle",
                "--format=esm",
                "--platform=neutral",
                "--main-fields=module,main",
                "--log-level=error",
                "--external:@scripthost/sdk",
                "--external:scripthost:abi/*",
                f"--metafile={meta}",
                f"--outfile={Path(work) / 'bundle.js'}",
            ],
            cwd=script.parent,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            lines = completed.stderr.strip().splitlines()
            raise BuildError(lines[-1] if lines else f"esbuild could not read {script.name}")
        inputs = json.loads(meta.read_text())["inputs"]
    paths = [(script.parent / name).resolve() for name in inputs]
    return _ordered(script, [p for p in paths if "node_modules" not in p.parts and p.is_file()])


def _python_inputs(script: Path) -> list[Path]:
    """The script and the modules under its folder it imports (its folder is on the path)."""
    finder = modulefinder.ModuleFinder(path=[str(script.parent)])
    finder.run_script(str(script))
    files = [getattr(module, "__file__", None) for module in finder.modules.values()]
    found = [Path(name).resolve() for name in files if isinstance(name, str)]
    return _ordered(script, [path for path in found if path.is_relative_to(script.parent)])


def _ordered(script: Path, found: list[Path]) -> list[Path]:
    return [script, *sorted(set(found) - {script})]


def _js_toolchain() -> tuple[ToolVersion, ToolVersion, dict[str, str]]:
    modules = _sdk_js() / "node_modules"
    node = shutil.which("node")
    tools = {"esbuild": _package_version(modules / "esbuild")}
    if node is not None:
        tools["node"] = _output([node, "--version"]) or "unknown"
    return (
        ToolVersion(name="@scripthost/sdk", version=_package_version(_sdk_js())),
        ToolVersion(
            name="componentize-js",
            version=_package_version(modules / "@bytecodealliance" / "componentize-js"),
        ),
        tools,
    )


def _python_toolchain() -> tuple[ToolVersion, ToolVersion, dict[str, str]]:
    return (
        ToolVersion(name="scripthost-sdk", version=_distribution_version("scripthost-sdk")),
        ToolVersion(name="componentize-py", version=_distribution_version("componentize-py")),
        {"python": platform.python_version()},
    )


def _package_version(folder: Path) -> str:
    try:
        return str(json.loads((folder / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return "unknown"


def _distribution_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def git_state(folder: Path, inputs: list[Path]) -> GitState | None:
    """The commit `folder`'s work tree is at and whether it is dirty; None outside git."""
    top = _output(["git", "-C", str(folder), "rev-parse", "--show-toplevel"])
    commit = _output(["git", "-C", str(folder), "rev-parse", "HEAD"])
    if top is None or commit is None:
        return None
    tracked_changes = _output(["git", "-C", top, "status", "--porcelain", "--untracked-files=no"])
    relative = [str(PurePosixPath(path.relative_to(Path(top).resolve()))) for path in inputs]
    untracked = _output(
        ["git", "-C", top, "ls-files", "--others", "--exclude-standard", "--", *relative]
    )
    branch = _output(["git", "-C", top, "rev-parse", "--abbrev-ref", "HEAD"])
    return GitState(
        commit=commit,
        dirty=bool(tracked_changes) or bool(untracked),
        branch=None if branch in {None, "HEAD"} else branch,
    )


def _output(command: list[str]) -> str | None:
    """A command's stripped output, or None if it cannot run or fails."""
    try:
        completed = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=_GIT_TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None
