"""`scripthost serve` as a real process on 127.0.0.1, and the CLI against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from host.build import REPO_ROOT
from tests.support.servers import free_port, wait_until_answers

SCRIPTHOST = str(Path(sys.executable).parent / "scripthost")
ADMIN_TOKEN = "admin-token-for-tests-0001"
TV_TOKEN = "tv-team-token-for-tests-0001"
MUSIC_TOKEN = "music-team-token-for-tests-01"
SCRAPE_TOKEN = "prometheus-scrape-token-for-tests"
# Compiles are cached across test sessions by wasmtime itself; the host's own
# compile counters still count every compile it asks for.
COMPILE_CACHE = REPO_ROOT / ".build" / "wasmtime-cache"


def example_backends(base: str) -> list[str]:
    """`--backend` values for the example backend service at `base`."""
    return [f"profile={base}/profile", f"recommendations={base}/recommendations"]


def write_tokens_file(path: Path) -> Path:
    path.write_text(
        json.dumps(
            {
                "tokens": [
                    {"name": "api-team", "token": ADMIN_TOKEN, "admin": True},
                    {"name": "tv-team", "token": TV_TOKEN, "namespaces": ["tv"]},
                    {"name": "music-team", "token": MUSIC_TOKEN, "namespaces": ["music"]},
                    {"name": "prometheus", "token": SCRAPE_TOKEN, "scrape": True},
                ]
            }
        )
    )
    return path


@dataclass
class HostProcess:
    data_dir: Path
    backends: Sequence[str] = ()
    extra_args: Sequence[str] = ()
    registry_url: str | None = None
    # Environment variables the host gets beyond the test process's own.
    env: Mapping[str, str] = field(default_factory=dict)
    # A command the host is started through (it must exec the rest of its arguments).
    launcher: Sequence[str] = ()
    # `serve --processes`: one unless a test is about several (the suite's CPU use).
    processes: int = 1
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "host.log"

    def start(self, timeout: float = 60.0) -> HostProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        tokens = write_tokens_file(self.data_dir / "tokens.json")
        command = [
            *self.launcher,
            SCRIPTHOST,
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--tokens",
            str(tokens),
            "--compile-cache",
            str(COMPILE_CACHE),
            "--refresh-interval",
            "0.2",
            "--log-format",
            "json",
            "--processes",
            str(self.processes),
            *(f"--backend={backend}" for backend in self.backends),
            *(["--registry", self.registry_url] if self.registry_url else []),
            *self.extra_args,
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}
            )
        try:
            wait_until_answers(f"{self.url}/healthz", timeout)
        except TimeoutError:
            self.stop()
            raise TimeoutError(f"host did not start; its log:\n{self.log_tail()}") from None
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def log_events(self) -> list[dict[str, Any]]:
        """The host's JSON log lines (Hypercorn's own plain lines are skipped)."""
        events = []
        for line in self.log_path.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                events.append(json.loads(line))
        return events

    def cli(
        self, *args: str, token: str | None = ADMIN_TOKEN, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "SCRIPTHOST_URL": self.url}
        env.pop("SCRIPTHOST_TOKEN", None)
        if token is not None:
            env["SCRIPTHOST_TOKEN"] = token
        completed = subprocess.run(
            [SCRIPTHOST, *args], env=env, capture_output=True, text=True, check=False
        )
        if check and completed.returncode != 0:
            raise AssertionError(
                f"scripthost {' '.join(args)} exited {completed.returncode}:\n{completed.stderr}"
            )
        return completed

    def admin(self, token: str | None = ADMIN_TOKEN) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=f"{self.url}/admin/v1", headers=headers, timeout=120.0)

    def device(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30.0)

    def status(self, path: str) -> int:
        """The status a device gets for `path` (with the examples' `user` parameter)."""
        with self.device() as device:
            return device.get(path, params={"user": "42"}).status_code

    def wait_for_status(self, path: str, status: int, patience: float = 60.0) -> None:
        """Poll `path` until it answers `status`; fail the test if it never does.

        `patience` only keeps a broken test from hanging: it is no speed
        expectation (the benchmarks measure speed).
        """
        deadline = time.monotonic() + patience
        while self.status(path) != status:
            assert time.monotonic() < deadline, f"{self.url}{path} never answered {status}"
            time.sleep(0.05)

    def metrics_text(self, token: str | None = ADMIN_TOKEN) -> str:
        """What Prometheus scraping `/metrics` with `token` gets."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{self.url}/metrics", headers=headers).raise_for_status().text

    def wait_for_readiness(self, status: int, patience: float = 120.0) -> None:
        """Poll /readyz until it answers `status` (503: degraded); `patience` as above."""
        deadline = time.monotonic() + patience
        while True:
            with self.device() as device:
                response = device.get("/readyz")
            if response.status_code == status:
                if status == 503:
                    assert response.json()["status"] == "degraded"
                return
            assert time.monotonic() < deadline, f"/readyz of {self.url} never gave {status}"
            time.sleep(0.1)

    def compiles(self) -> int:
        """Modules this host has compiled itself (rather than loaded)."""
        count: int = self.host_info()["cache"]["compiles"]
        return count

    def host_info(self) -> dict[str, Any]:
        with self.admin() as client:
            info: dict[str, Any] = client.get("/host").raise_for_status().json()
            return info


@contextmanager
def hosts_sharing_sqlite(
    root: Path, backends: Sequence[str], names: Sequence[str] = ("a", "b")
) -> Iterator[list[HostProcess]]:
    """Hosts started on one SQLite registry, as processes on one machine share it."""
    (root / "shared").mkdir(parents=True, exist_ok=True)
    registry_url = f"sqlite:///{root / 'shared' / 'registry.db'}"
    hosts = [
        HostProcess(root / name, backends=backends, registry_url=registry_url) for name in names
    ]
    try:
        for host in hosts:
            host.start()
        yield hosts
    finally:
        for host in hosts:
            host.stop()
