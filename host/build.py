"""Build scripts with their language's SDK (`scripthost build`).

A script builds into one of two forms:

- a **bundle** (the default): the script's own files and the packages it
  imports, a few KB naming the shared runtime of its language that runs it.
  Bundling takes well under a second; the runtime, one component per
  language and SDK version, is built here once (10-40 s) and cached in
  `.build/runtimes/`, and a host compiles it once for every script.
- a **component** (`--component`): the script snapshotted into its own copy
  of the engine, ~12-18 MB, 10-30 s to build and seconds to compile.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = {".js": "js", ".mjs": "js", ".py": "python"}
BUNDLE_SUFFIX = ".bundle"
BUILD_CACHE_DIR = REPO_ROOT / ".build" / "components"
RUNTIME_CACHE_DIR = REPO_ROOT / ".build" / "runtimes"
# What a runtime (and so every build) depends on besides the script itself.
_SDK_INPUTS = {
    "js": (
        (REPO_ROOT / "abi" / "wit", "*.wit"),
        (REPO_ROOT / "sdk-js" / "src", "*.js"),
        (REPO_ROOT / "sdk-js" / "bin", "*.js"),
        (REPO_ROOT / "sdk-js", "package-lock.json"),
    ),
    "python": (
        (REPO_ROOT / "abi" / "wit", "*.wit"),
        (REPO_ROOT / "sdk-py" / "src" / "scripthost_sdk", "*.py"),
        (REPO_ROOT / "sdk-py", "pyproject.toml"),
    ),
}
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
    _check_exists(source)
    out.parent.mkdir(parents=True, exist_ok=True)
    _run_sdk(language_of(source), [str(source), "-o", str(out)], f"build of {source} failed")
    return out


def build_bundle(source: Path, out: Path, runtime_cache: Path = RUNTIME_CACHE_DIR) -> Path:
    """Bundle `source` for its language's runtime (built first if need be) at `out`."""
    _check_exists(source)
    language = language_of(source)
    runtime = runtime_component(language, runtime_cache)
    out.parent.mkdir(parents=True, exist_ok=True)
    arguments = [str(source), "--bundle-for", str(runtime), "-o", str(out)]
    _run_sdk(language, arguments, f"bundling {source} failed")
    return out


def runtime_component(language: str, cache_dir: Path = RUNTIME_CACHE_DIR) -> Path:
    """This checkout's shared runtime for `language`, built once per version of its SDK."""
    target = cache_dir / f"{language}-runtime-{_sdk_digest(language)}.wasm"
    with _lock_for(target):
        if not target.exists():
            partial = target.with_suffix(".partial.wasm")
            partial.parent.mkdir(parents=True, exist_ok=True)
            _run_sdk(language, ["--runtime", "-o", str(partial)], f"the {language} runtime")
            partial.replace(target)
    return target


def find_runtime(sha256: str, cache_dir: Path = RUNTIME_CACHE_DIR) -> Path | None:
    """The runtime built here whose component has this SHA-256, if there is one."""
    for path in sorted(cache_dir.glob("*-runtime-*.wasm")):
        built = not path.name.endswith(".partial.wasm")
        if built and hashlib.sha256(path.read_bytes()).hexdigest() == sha256:
            return path
    return None


def bundle_runtime_sha256(bundle: bytes) -> str:
    """The SHA-256 of the runtime a bundle names (its header line; see host.sandbox)."""
    _, _, rest = bundle.partition(b"\n")
    header = json.loads(rest.partition(b"\n")[0])
    return str(header["runtime"]["sha256"])


def source_listing(source: Path, bundle: bytes) -> str:
    """The author's own files in a bundle as one text, for the console's source view and diff.

    One file is itself; several are each headed by their name. Packages from
    node_modules or the environment are not the author's and are left out.
    """
    _, _, rest = bundle.partition(b"\n")
    files = [str(name) for name in json.loads(rest.partition(b"\n")[0])["files"]]
    own = [
        name
        for name in files
        if (source.parent / name).is_file() and "node_modules" not in Path(name).parts
    ]
    if own == [source.name]:
        return source.read_text()
    comment = "#" if language_of(source) == "python" else "//"
    ordered = [source.name, *sorted(name for name in own if name != source.name)]
    return "\n".join(
        f"{comment} ==> {name} <==\n{(source.parent / name).read_text()}" for name in ordered
    )


def _check_exists(source: Path) -> None:
    if not source.is_file():
        raise BuildError(f"no such script: {source}")


def _run_sdk(language: str, arguments: list[str], what: str) -> None:
    command = _sdk_command(language) + arguments
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        explanation = (completed.stderr or completed.stdout).strip().splitlines()
        raise BuildError(explanation[-1].removeprefix("error: ") if explanation else what)


def _sdk_command(language: str) -> list[str]:
    if language == "python":
        return [sys.executable, "-m", "scripthost_sdk.build"]
    node = shutil.which("node")
    if node is None:
        raise BuildError("building JavaScript needs Node.js 20+ on PATH")
    return [node, str(sdk_js_dir() / "bin" / "build.js")]


def sdk_js_dir() -> Path:
    """The JavaScript SDK that builds and tests use (env `SCRIPTHOST_SDK_JS` to override)."""
    return Path(os.environ.get("SCRIPTHOST_SDK_JS", REPO_ROOT / "sdk-js"))


def build_cached(source: Path, cache_dir: Path = BUILD_CACHE_DIR) -> Path:
    """The component for `source`, built only if no build of the same inputs exists.

    A build takes 10-30 s, so tests, benchmarks and `make run` share one cache
    keyed by everything the script's bundle holds (the script, the files it
    imports, the runtime, so the SDK and the WIT). A script that cannot be
    bundled (it needs what only a component can hold) is keyed by every
    script file next to it and the SDK.
    """
    try:
        key = _bundle_digest(source)
    except BuildError:
        key = _folder_digest(source)
    target = cache_dir / f"{source.stem}-{source.suffix[1:]}-{key}.wasm"
    with _lock_for(target):
        if not target.exists():
            partial = target.with_suffix(".partial.wasm")
            build_script(source, partial)
            partial.replace(target)
    return target


def build_all_cached(sources: Iterable[Path], parallelism: int = 2) -> list[Path]:
    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        return list(pool.map(build_cached, sources))


def _bundle_digest(source: Path) -> str:
    with tempfile.TemporaryDirectory(prefix="scripthost-key-") as scratch:
        bundle = build_bundle(source, Path(scratch) / "key.bundle")
        return hashlib.sha256(bundle.read_bytes()).hexdigest()[:16]


def _folder_digest(source: Path) -> str:
    digest = hashlib.sha256(_sdk_digest(language_of(source)).encode())
    for path in sorted(source.parent.glob(f"*{source.suffix}")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return "f" + digest.hexdigest()[:15]


def _sdk_digest(language: str) -> str:
    digest = hashlib.sha256()
    for folder, pattern in _SDK_INPUTS[language]:
        for path in sorted(folder.rglob(pattern)):
            if "node_modules" not in path.parts:
                digest.update(path.name.encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _lock_for(path: Path) -> threading.Lock:
    with _target_locks_guard:
        return _target_locks.setdefault(path, threading.Lock())
