"""Build test scripts into components once, keyed by content, shared across sessions.

A build takes 10-30 s, so a component is rebuilt only when its source, the
SDK or the WIT changed.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from pathlib import Path

from host.build import REPO_ROOT, build_script

CACHE_DIR = REPO_ROOT / ".build" / "components"
_SDK_INPUTS = (
    (REPO_ROOT / "abi" / "wit", "*.wit"),
    (REPO_ROOT / "sdk-js" / "src", "*.js"),
    (REPO_ROOT / "sdk-js" / "bin", "*.js"),
    (REPO_ROOT / "sdk-py" / "src" / "scripthost_sdk", "*.py"),
)
_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def _inputs_digest(source: Path) -> str:
    digest = hashlib.sha256(source.read_bytes())
    for folder, pattern in _SDK_INPUTS:
        for path in sorted(folder.rglob(pattern)):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _lock_for(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def built(source: Path) -> Path:
    """The component for `source`, building it if no build of these inputs exists."""
    target = CACHE_DIR / f"{source.stem}-{source.suffix[1:]}-{_inputs_digest(source)}.wasm"
    with _lock_for(target):
        if not target.exists():
            partial = target.with_suffix(".partial.wasm")
            build_script(source, partial)
            partial.replace(target)
    return target


def build_all(sources: Iterable[Path], parallelism: int = 2) -> list[Path]:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=parallelism) as pool:
        return list(pool.map(built, sources))
