"""Self-protection over HTTP: load shedding under overload, and the circuit breaker."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.components import sleeper
from tests.support.hosts import HostProcess, example_backends

SLOW_MS = 1000


@pytest.fixture
def small_host(
    tmp_path: Path, example_backend: str, built: dict[str, Path]
) -> Iterator[HostProcess]:
    """One sandbox worker and a queue of two: easy to overload."""
    served = HostProcess(
        tmp_path / "host",
        backends=example_backends(example_backend),
        extra_args=["--workers", "1", "--max-queue", "2"],
    ).start()
    served.cli("deploy", str(built["loop"]), "--endpoint", "tv/slow")
    served.cli("deploy", str(built["v2"]), "--endpoint", "tv/fast")
    with served.admin() as admin:
        quotas = {"fuel": 10**13, "timeout_ms": SLOW_MS}
        admin.put("/endpoints/tv/slow/-/quotas", json={"quotas": quotas}).raise_for_status()
    yield served
    served.stop()


def timed_get(url: str) -> tuple[int, float, str]:
    started = time.monotonic()
    response = httpx.get(url, timeout=30)
    error = response.json().get("error", "") if response.status_code != 200 else ""
    return response.status_code, (time.monotonic() - started) * 1000, error


def test_overload_is_shed_at_once_and_the_host_recovers(small_host: HostProcess) -> None:
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        outcomes = list(pool.map(timed_get, [f"{small_host.url}/tv/slow"] * 12))
    shed = [ms for status, ms, error in outcomes if (status, error) == (503, "overloaded")]
    ran = [status for status, _, error in outcomes if error == "timeout"]
    assert len(shed) >= 6
    assert len(ran) >= 1
    # A shed request never waited for a sandbox: it came back before any
    # script could have run out its wall-clock quota.
    assert max(shed) < SLOW_MS
    assert len(shed) + len(ran) == len(outcomes)

    time.sleep(SLOW_MS * 3 / 1000)
    status, _, _ = timed_get(f"{small_host.url}/tv/fast")
    assert status == 200


def test_a_storm_of_timeouts_trips_the_breaker(small_host: HostProcess) -> None:
    with small_host.admin() as admin:
        quotas = {"fuel": 1_000_000}
        admin.put("/endpoints/tv/slow/-/quotas", json={"quotas": quotas}).raise_for_status()
    outcomes = [timed_get(f"{small_host.url}/tv/slow") for _ in range(25)]
    errors = [error for _, _, error in outcomes]
    first_open = errors.index("circuit_open")
    assert set(errors[:first_open]) == {"fuel_exhausted"}
    assert set(errors[first_open:]) == {"circuit_open"}
    assert small_host.host_info()["open_breakers"] == ["tv/slow"]
    assert "circuit breaker opened" in {e["event"] for e in small_host.log_events()}
    status, _, _ = timed_get(f"{small_host.url}/tv/fast")
    assert status == 200


SLEEPER_DEADLINE_MS = 3000
# A WASI timer far beyond any deadline: waiting for it is the bug.
SLEEPER_TIMER_S = 30


@pytest.fixture
def sleepy_host(
    tmp_path: Path, example_backend: str, built: dict[str, Path]
) -> Iterator[HostProcess]:
    """Two workers; team tv has two endpoints that block in a host call, music a good one."""
    served = HostProcess(
        tmp_path / "host",
        backends=example_backends(example_backend),
        extra_args=["--workers", "2"],
    ).start()
    module = tmp_path / "sleeper.wasm"
    module.write_bytes(sleeper(SLEEPER_TIMER_S * 10**9))
    for endpoint in ("tv/sleep-a", "tv/sleep-b"):
        served.cli("deploy", str(module), "--endpoint", endpoint)
        with served.admin() as admin:
            quotas = {"timeout_ms": SLEEPER_DEADLINE_MS}
            admin.put(f"/endpoints/{endpoint}/-/quotas", json={"quotas": quotas}).raise_for_status()
    served.cli("deploy", str(built["js"]), "--endpoint", "music/home")
    yield served
    served.stop()


def test_scripts_blocked_in_a_host_call_free_their_workers_at_their_deadline(
    sleepy_host: HostProcess,
) -> None:
    url = sleepy_host.url
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        sleeping = [pool.submit(timed_get, f"{url}/tv/sleep-{name}") for name in "ab"]
        _until_both_workers_sleep(sleepy_host)
        other_team = timed_get(f"{url}/music/home?user=42")
        slept = [future.result() for future in sleeping]
    assert other_team[0] == 200
    assert [(status, error) for status, _, error in slept] == [(504, "timeout")] * 2


def test_shutdown_does_not_wait_for_sleepers_beyond_their_deadline(
    sleepy_host: HostProcess,
) -> None:
    process = sleepy_host.process
    assert process is not None
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        sleeping = [pool.submit(_get_status, f"{sleepy_host.url}/tv/sleep-{n}") for n in "ab"]
        _until_both_workers_sleep(sleepy_host)
        process.terminate()
        # Well before the timers the scripts wait on would fire.
        assert process.wait(timeout=SLEEPER_TIMER_S / 2) == 0
        assert [future.result() for future in sleeping] == [504, 504]


def _until_both_workers_sleep(host: HostProcess) -> None:
    for _ in range(200):
        if host.host_info()["sandbox_in_flight"] >= 2:
            return
        time.sleep(0.01)
    raise AssertionError("the sleepers never reached the sandbox")


def _get_status(url: str) -> int:
    return httpx.get(url, timeout=SLEEPER_TIMER_S * 2).status_code
