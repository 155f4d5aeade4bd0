"""Build a script into a component with its language's SDK (`scripthost build`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
LANGUAGES = {".js": "js", ".mjs": "js", ".py": "python"}


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
    sdk_js = Path(os.environ.get("SCRIPTHOST_SDK_JS", REPO_ROOT / "sdk-js"))
    return [node, str(sdk_js / "bin" / "build.js"), str(source), "-o", str(out)]
