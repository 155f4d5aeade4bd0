"""`scripthost dev`: a local host serving one script, redeployed whenever its files change.

The host is a `scripthost serve` of its own (embedded registry in a scratch
data dir, the backends or catalogue given); each change to a file under the
script's folder deploys the script again from this process (what
`scripthost deploy --if-changed` does, without starting a command), so an
edit is a new bundle served within about a second, and a failed build leaves
the last good version serving while its error is printed.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

_SCRIPTHOST = str(Path(sys.executable).parent / "scripthost")
_IGNORED_DIRS = {"node_modules", "__pycache__", ".git", ".venv", ".scripthost-dev"}
_POLL_S = 0.2

Snapshot = dict[Path, int]


@dataclass(frozen=True)
class DevHost:
    url: str
    token: str


# Deploys the script to the dev host: (succeeded, what to tell the author).
Deploy = Callable[[DevHost], tuple[bool, str]]


def snapshot(folder: Path) -> Snapshot:
    """Every file under `folder` (less dependencies and caches) with its mtime."""
    found: Snapshot = {}
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in _IGNORED_DIRS and not d.startswith(".")]
        for name in files:
            path = Path(root, name)
            try:
                found[path] = path.stat().st_mtime_ns
            except FileNotFoundError:
                continue
    return found


@contextmanager
def dev_host(data_dir: Path, port: int, serve_args: list[str]) -> Iterator[DevHost]:
    """A `scripthost serve` on 127.0.0.1:`port` with a fresh admin token, stopped on exit."""
    token = secrets.token_urlsafe(24)
    host = DevHost(f"http://127.0.0.1:{port}", token)
    # One process: the next request after a deploy is served by the process that took it.
    command = [
        _SCRIPTHOST, "serve", "--data-dir", str(data_dir), "--host", "127.0.0.1",
        "--port", str(port), "--refresh-interval", "0.2", "--processes", "1", *serve_args,
    ]  # fmt: skip
    process = subprocess.Popen(command, env={**os.environ, "SCRIPTHOST_ADMIN_TOKEN": token})
    try:
        _wait_until_healthy(host, process)
        yield host
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def _wait_until_healthy(host: DevHost, process: subprocess.Popen[bytes]) -> None:
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the local host exited with status {process.returncode}")
        try:
            if httpx.get(f"{host.url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)


def watch(
    folder: Path, on_change: Callable[[], None], should_stop: Callable[[], bool] = lambda: False
) -> None:
    """Call `on_change` after every change of the files under `folder`."""
    seen = snapshot(folder)
    while not should_stop():
        time.sleep(_POLL_S)
        now = snapshot(folder)
        if now != seen:
            seen = now
            on_change()


def run_dev(
    script: Path,
    endpoint: str,
    port: int,
    serve_args: list[str],
    deploy: Deploy,
    say: Callable[[str], None],
) -> None:
    """Serve `script` at `endpoint` on a local host and redeploy it on every change."""
    folder = script.resolve().parent
    with (
        tempfile.TemporaryDirectory(prefix="scripthost-dev-") as data_dir,
        dev_host(Path(data_dir), port, serve_args) as host,
    ):

        def redeploy() -> None:
            started = time.monotonic()
            ok, said = deploy(host)
            took = time.monotonic() - started
            say(f"{'deployed' if ok else 'not deployed'} in {took:.1f} s: {said}")

        redeploy()
        say(f"serving {host.url}/{endpoint.strip('/')}; watching {folder} (Ctrl-C stops)")
        watch(folder, redeploy)
