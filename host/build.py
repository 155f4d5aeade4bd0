"""Build a script into a component with its language's SDK (`scripthost build`)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = {".js": "js", ".mjs": "js", ".py": "python"}
BUILD_CACHE_DIR = REPO_ROOT / ".build" / "components"
# What a build's output depends on besides the script itself.
_SDK_INPUTS = (
    (REPO_ROOT / "abi" / "wit", "*.wit"),
    (REPO_ROOT / "sdk-js" / "src", "*.js"),
    (REPO_ROOT / "sdk-js" / "bin", "*.js"),
    (REPO_ROOT / "sdk-py" / "src" / "scripthost_sdk", "*.py"),
)
_target_locks: dict[Path, threading.Lock] = {}
_target_locks_guard = threading.Lock()


class BuildError(RuntimeError):
    """The SDK could not build the script; the message is the SDK's own explanation."""


def language_of(source: Path) -> str:
    try:
        return LANGUAGES[source.suffix]
    except KeyError:
        raise BuildError(
            f"cannot tell the language of {source.name}: use .js, .mjs or .py"
        ) from None


def build_script(source: Path, out: Path) -> Path:
    """Compile `source` to a WebAssembly component at `out` and return `out`."""
    if not source.is_file():
        raise BuildError(f"no such script: {source}")
    out.parent.mkdir(parents=True, exist_ok=True)
    command = _sdk_command(language_of(source), source, out)
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        explanation = (completed.stderr or completed.stdout).strip().splitlines()
        raise BuildError(explanation[-1] if explanation else f"build of {source} failed")
    return out


def _sdk_command(language: str, source: Path, out: Path) -> list[str]:
    if language == "python":
        return [sys.executable, "-m", "scripthost_sdk.build", str(source), "-o", str(out)]
    node = shutil.which("node")
    if node is None:
        raise BuildError("building JavaScript needs Node.js 20+ on PATH")
    return [node, str(sdk_js_dir() / "bin" / "build.js"), str(source), "-o", str(out)]


def sdk_js_dir() -> Path:
    """The JavaScript SDK that builds and tests use (env `SCRIPTHOST_SDK_JS` to override)."""
    return Path(os.environ.get("SCRIPTHOST_SDK_JS", REPO_ROOT / "sdk-js"))


def build_cached(
    source: Path, cache_dir: Path = BUILD_CACHE_DIR, imports: Mapping[str, str] | None = None
) -> Path:
    """The component for `source`, built only if no build of the same inputs exists.

    A build takes 10-30 s, so tests, benchmarks and `make run` share one cache
    keyed by the script, the files it imports (`imports`: path -> text, as
    `host.build_inputs` finds them), the SDK sources and the WIT.
    """
    digest = _inputs_digest(source, imports or {})
    target = cache_dir / f"{source.stem}-{source.suffix[1:]}-{digest}.wasm"
    with _lock_for(target):
        if not target.exists():
            partial = target.with_suffix(".partial.wasm")
            build_script(source, partial)
            partial.replace(target)
    return target


def build_all_cached(sources: Iterable[Path], parallelism: int = 2) -> list[Path]:
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        return list(pool.map(build_cached, sources))


def _inputs_digest(source: Path, imports: Mapping[str, str]) -> str:
    digest = hashlib.sha256(source.read_bytes())
    for name, text in sorted(imports.items()):
        digest.update(name.encode())
        digest.update(text.encode())
    for folder, pattern in _SDK_INPUTS:
        for path in sorted(folder.rglob(pattern)):
            if "node_modules" not in path.parts:
                digest.update(path.name.encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _lock_for(path: Path) -> threading.Lock:
    with _target_locks_guard:
        return _target_locks.setdefault(path, threading.Lock())
