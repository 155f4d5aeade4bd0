"""Deploys while devices call, and compiles counted across two hosts sharing a registry."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.hosts import HostProcess, example_backends


@dataclass(frozen=True, slots=True)
class Answer:
    sent_at: float
    status: int
    body: dict[str, object] | str


class Caller(threading.Thread):
    """Calls one endpoint without pause, recording every answer and when its request left."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.answers: list[Answer] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30.0) as client:
            while not self.stopping.is_set():
                sent_at = time.monotonic()
                try:
                    response = client.get(self.url, params={"user": "42"})
                    body = response.json() if response.status_code == 200 else response.text
                    self.answers.append(Answer(sent_at, response.status_code, body))
                except httpx.TransportError as error:
                    self.answers.append(Answer(sent_at, 0, repr(error)))

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=60)


def edition(answer: Answer) -> object:
    return answer.body.get("edition", "v1") if isinstance(answer.body, dict) else None


def test_a_deploy_under_load_fails_no_request(host: HostProcess, built: dict[str, Path]) -> None:
    host.cli("deploy", str(built["js"]), "--endpoint", "tv/home", "--config", "greeting=Hello")
    callers = [Caller(f"{host.url}/tv/home") for _ in range(2)]
    for caller in callers:
        caller.start()
    wait_for_answers(callers, 10)
    deploying_at = time.monotonic()
    host.cli("deploy", str(built["v2"]), "--endpoint", "tv/home")
    deployed_at = time.monotonic()
    wait_for_answers(callers, 10, sent_after=deployed_at)
    for caller in callers:
        caller.stop()

    answers = [answer for caller in callers for answer in caller.answers]
    assert [answer for answer in answers if answer.status != 200] == []
    # Until the deploy began only v1 answered; the host that took the deploy
    # serves v2 from the moment it acknowledges it, and v1 never again.
    assert {edition(a) for a in answers if a.sent_at < deploying_at} == {"v1"}
    assert {edition(a) for a in answers if a.sent_at > deployed_at} == {"v2"}


def wait_for_answers(callers: list[Caller], count: int, sent_after: float = 0.0) -> None:
    """Until every caller has `count` answers to requests sent after `sent_after`."""
    deadline = time.monotonic() + 60
    while any(sum(a.sent_at > sent_after for a in c.answers) < count for c in callers):
        assert time.monotonic() < deadline, "the callers got no answers"
        time.sleep(0.05)


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
            served.wait_for_status("/tv/home-py", 200)
        compiles = [h.host_info()["cache"]["compiles"] for h in (first, second)]
        assert compiles == [2, 0]
        assert second.host_info()["cache"]["registry_loads"] == 2

        # A host that starts later, with nothing on its own disk, loads the
        # artifacts from the registry and compiles nothing.
        third = HostProcess(tmp_path / "c", backends=backends, registry_url=shared_registry)
        third.start()
        try:
            third.wait_for_status("/tv/home", 200)
            assert third.host_info()["cache"]["compiles"] == 0
            assert third.host_info()["cache"]["registry_loads"] == 2
        finally:
            third.stop()
    finally:
        first.stop()
        second.stop()
