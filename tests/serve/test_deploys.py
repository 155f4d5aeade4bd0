"""Deploys while devices call, and compiles counted across two hosts sharing a registry."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from tests.support.hosts import HostProcess, example_backends


class Caller(threading.Thread):
    """Calls one endpoint without pause, recording every answer and when it came."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.answers: list[tuple[float, int, dict[str, object] | str]] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10.0) as client:
            while not self.stopping.is_set():
                try:
                    response = client.get(self.url, params={"user": "42"})
                    body = response.json() if response.status_code == 200 else response.text
                    self.answers.append((time.monotonic(), response.status_code, body))
                except httpx.TransportError as error:
                    self.answers.append((time.monotonic(), 0, repr(error)))

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)


def test_a_deploy_under_load_fails_no_request(host: HostProcess, built: dict[str, Path]) -> None:
    host.cli("deploy", str(built["js"]), "--endpoint", "tv/home", "--config", "greeting=Hello")
    callers = [Caller(f"{host.url}/tv/home") for _ in range(2)]
    for caller in callers:
        caller.start()
    time.sleep(1.0)
    host.cli("deploy", str(built["v2"]), "--endpoint", "tv/home")
    deployed_at = time.monotonic()
    time.sleep(2.5)
    for caller in callers:
        caller.stop()

    answers = [answer for caller in callers for answer in caller.answers]
    failures = [answer for answer in answers if answer[1] != 200]
    assert failures == []
    assert len(answers) > 20
    first_v2 = min(at for at, _, body in answers if isinstance(body, dict) and "edition" in body)
    assert first_v2 - deployed_at < 2.0
    # Once the new version serves, the old one never answers again.
    late = [body for at, _, body in answers if at > first_v2 + 0.5]
    assert late
    assert all(isinstance(body, dict) and body.get("edition") == "v2" for body in late)


def test_two_hosts_compile_a_module_once(
    tmp_path: Path, example_backend: str, built: dict[str, Path]
) -> None:
    shared_registry = f"sqlite:///{tmp_path / 'shared' / 'registry.db'}"
    (tmp_path / "shared").mkdir()
    backends = example_backends(example_backend)
    first, second = (
        HostProcess(tmp_path / name, backends=backends, registry_url=shared_registry).start()
        for name in ("a", "b")
    )
    try:
        first.cli("deploy", str(built["js"]), "--endpoint", "tv/home")
        first.cli("deploy", str(built["py"]), "--endpoint", "tv/home-py")
        for served in (first, second):
            served.seconds_until("/tv/home-py", 200, limit=10.0)
        compiles = [h.host_info()["cache"]["compiles"] for h in (first, second)]
        assert compiles == [2, 0]
        assert second.host_info()["cache"]["registry_loads"] == 2

        # A host that starts later, with nothing on its own disk, loads the
        # artifacts from the registry and compiles nothing.
        third = HostProcess(tmp_path / "c", backends=backends, registry_url=shared_registry)
        third.start()
        try:
            third.seconds_until("/tv/home", 200, limit=10.0)
            assert third.host_info()["cache"]["compiles"] == 0
            assert third.host_info()["cache"]["registry_loads"] == 2
        finally:
            third.stop()
    finally:
        first.stop()
        second.stop()
