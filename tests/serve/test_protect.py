"""Self-protection over HTTP: load shedding, the circuit breaker and cheap refusals.

The only sandbox worker is kept busy by a script whose backend call the test
holds (a recording backend answers it only when told), so who waits, who is
shed and who runs is decided by the order of requests, never by the clock.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.components import sleeper
from tests.support.hosts import HostProcess, example_backends
from tests.support.metrics import Scrape
from tests.support.recording import RecordingBackend, recording_backend

HostFactory = Callable[..., HostProcess]


@pytest.fixture
def held() -> Iterator[RecordingBackend]:
    with recording_backend({"held": True}) as backend:
        yield backend


@pytest.fixture
def start_host(
    tmp_path: Path, built: dict[str, Path], held: RecordingBackend
) -> Iterator[HostFactory]:
    """A host with one CPU slot; `tv/hold` waits on `held` until the test releases it."""
    started: list[HostProcess] = []

    def start(*serve_args: str) -> HostProcess:
        catalogue = tmp_path / "catalogue.json"
        services = [{"name": "held", "url": held.url, "timeout_ms": 60_000}]
        catalogue.write_text(json.dumps({"services": services}))
        served = HostProcess(
            tmp_path / "host",
            extra_args=["--catalogue", str(catalogue), "--workers", "1", *serve_args],
        ).start()
        started.append(served)
        for endpoint, script in (("hold", "reach"), ("fast", "v2"), ("slow", "loop")):
            served.cli("deploy", str(built[script]), "--endpoint", f"tv/{endpoint}")
        set_quotas(served, "hold", timeout_ms=60_000)
        return served

    yield start
    for served in started:
        served.stop()


def set_quotas(host: HostProcess, endpoint: str, **quotas: int) -> None:
    with host.admin() as admin:
        admin.put(f"/endpoints/tv/{endpoint}/-/quotas", json={"quotas": quotas}).raise_for_status()


def get(host: HostProcess, endpoint: str) -> httpx.Response:
    params = {"service": "held", "path": "/x"} if endpoint == "hold" else {}
    return httpx.get(f"{host.url}/tv/{endpoint}", params=params, timeout=90)


def wait_for_queue(host: HostProcess, depth: int) -> None:
    for _ in range(600):
        if Scrape(host).value("scripthost_sandbox_queue_depth") == depth:
            return
        time.sleep(0.05)
    raise AssertionError(f"the sandbox queue never reached {depth}")


def overloaded(response: httpx.Response) -> bool:
    return (response.status_code, response.json()["error"]) == (503, "overloaded")


def test_a_full_queue_sheds_every_new_request_at_once(
    start_host: HostFactory, held: RecordingBackend
) -> None:
    host = start_host("--max-queue", "2", "--max-instances", "1")
    held.hold()
    with ThreadPoolExecutor(3) as pool:
        running = pool.submit(get, host, "hold")
        held.wait_for_in_flight(1)
        queued = [pool.submit(get, host, "hold") for _ in range(2)]
        wait_for_queue(host, 2)
        assert Scrape(host).value("scripthost_sandbox_paused") == 1
        shed = [get(host, endpoint) for endpoint in ("hold", "hold", "hold", "fast")]
        # All answered while the worker was still held and the queue still full.
        assert (held.in_flight, len(held.received)) == (1, 1)
        assert Scrape(host).value("scripthost_sandbox_queue_depth") == 2
        held.release()
        served = [future.result() for future in (running, *queued)]
    assert all(overloaded(response) for response in shed)
    assert all(int(response.headers["retry-after"]) >= 1 for response in shed)
    assert [response.status_code for response in served] == [200, 200, 200]
    assert Scrape(host).value("scripthost_shed_requests_total", endpoint="/hold") == 3
    assert Scrape(host).value("scripthost_shed_requests_total", endpoint="/fast") == 1
    recovered = get(host, "fast")
    assert recovered.status_code == 200, (recovered.text, host.log_tail())


def test_queue_budget_ms_sheds_an_endpoint_whose_queue_does_not_drain(
    start_host: HostFactory, held: RecordingBackend
) -> None:
    # The endpoint's own budget would be half its 60 s timeout; the flag fixes it.
    host = start_host("--queue-budget-ms", "100", "--max-instances", "1")
    held.hold()
    with ThreadPoolExecutor(3) as pool:
        running = pool.submit(get, host, "hold")
        held.wait_for_in_flight(1)
        waiting = pool.submit(get, host, "hold")
        wait_for_queue(host, 1)
        time.sleep(0.3)  # the queued request has now waited past the budget
        shed = get(host, "hold")
        # Another endpoint's queue is empty: it queues instead of being shed.
        other = pool.submit(get, host, "fast")
        wait_for_queue(host, 2)
        held.release()
        served = [future.result() for future in (running, waiting, other)]
    assert overloaded(shed)
    assert [response.status_code for response in served] == [200, 200, 200]
    assert Scrape(host).value("scripthost_shed_requests_total", endpoint="/hold") == 1


def test_by_default_the_budget_is_half_the_endpoints_timeout(
    start_host: HostFactory, held: RecordingBackend
) -> None:
    host = start_host("--max-instances", "1")
    set_quotas(host, "fast", timeout_ms=400)
    held.hold()
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(get, host, "hold")
        held.wait_for_in_flight(1)
        waiting = pool.submit(get, host, "fast")
        wait_for_queue(host, 1)
        time.sleep(0.5)  # past half of the 400 ms timeout
        shed = get(host, "fast")
        held.release()
        served = [future.result() for future in (running, waiting)]
    assert overloaded(shed)
    assert [response.status_code for response in served] == [200, 200]


def test_scripts_waiting_on_a_backend_hold_no_cpu_slot(
    start_host: HostFactory, held: RecordingBackend
) -> None:
    host = start_host()
    held.hold()
    with ThreadPoolExecutor(3) as pool:
        waiting = [pool.submit(get, host, "hold") for _ in range(3)]
        # Three scripts in backend calls at once, on the host's one CPU slot...
        held.wait_for_in_flight(3)
        assert Scrape(host).value("scripthost_sandbox_paused") == 3
        # ...and a script that only computes still runs meanwhile.
        computed = get(host, "fast")
        assert held.in_flight == 3
        held.release()
        answered = [future.result() for future in waiting]
    assert computed.status_code == 200
    assert [response.status_code for response in answered] == [200, 200, 200]
    assert Scrape(host).value("scripthost_sandbox_paused") == 0


def test_one_endpoint_keeps_at_most_half_the_instances_alive_waiting_included(
    start_host: HostFactory, held: RecordingBackend
) -> None:
    host = start_host("--max-instances", "4")
    held.hold()
    with ThreadPoolExecutor(3) as pool:
        waiting = [pool.submit(get, host, "hold") for _ in range(3)]
        held.wait_for_in_flight(2)
        wait_for_queue(host, 1)
        # The other half is its neighbours': they still run.
        computed = get(host, "fast")
        assert held.in_flight == 2
        held.release()
        answered = [future.result() for future in waiting]
    assert computed.status_code == 200
    assert [response.status_code for response in answered] == [200, 200, 200]
    assert held.max_in_flight == 2


def trip_the_breaker(host: HostProcess) -> list[httpx.Response]:
    set_quotas(host, "slow", fuel=1_000_000)
    return [get(host, "slow") for _ in range(8)]


def test_five_resource_failures_trip_the_breaker(start_host: HostFactory) -> None:
    host = start_host()
    responses = trip_the_breaker(host)
    errors = [response.json()["error"] for response in responses]
    # The default breaker: open at the fifth failure, for five seconds.
    assert errors == ["fuel_exhausted"] * 5 + ["circuit_open"] * 3
    first_refusal = responses[5]
    assert first_refusal.status_code == 503
    assert first_refusal.headers["retry-after"] == "5"
    assert "x-scripthost-failure" not in first_refusal.headers
    assert host.host_info()["open_breakers"] == ["tv/slow"]
    opened = [e for e in host.log_events() if e.get("event") == "circuit breaker opened"]
    assert [(e["namespace"], e["endpoint"]) for e in opened] == [("tv", "/slow")]
    assert Scrape(host).value("scripthost_breaker_trips_total", endpoint="/slow") == 1
    assert Scrape(host).value("scripthost_breakers_open") == 1
    assert get(host, "fast").status_code == 200


def test_requests_waiting_for_a_slot_when_the_breaker_opens_are_refused_not_run(
    start_host: HostFactory, held: RecordingBackend
) -> None:
    """Each would fail as the five that tripped the breaker did, holding a slot as long."""
    host = start_host("--max-instances", "1", "--queue-budget-ms", "600000")
    set_quotas(host, "slow", fuel=1_000_000)
    held.hold()
    with ThreadPoolExecutor(9) as pool:
        running = pool.submit(get, host, "hold")
        held.wait_for_in_flight(1)
        queued = [pool.submit(get, host, "slow") for _ in range(8)]
        wait_for_queue(host, 8)
        held.release()
        errors = [future.result().json()["error"] for future in queued]
        assert running.result().status_code == 200
    assert sorted(errors) == ["circuit_open"] * 3 + ["fuel_exhausted"] * 5
    ran = Scrape(host).value(
        "scripthost_requests_total", endpoint="/slow", status="503", outcome="fuel_exhausted"
    )
    assert ran == 5


def test_switched_off_and_paused_endpoints_are_refused_cheaply_and_counted(
    start_host: HostFactory,
) -> None:
    """A thin layer answers these before any routing, from the route table alone;
    each refusal still carries the request id and is logged and counted."""
    host = start_host()
    trip_the_breaker(host)
    with host.admin() as admin:
        admin.put("/endpoints/tv/fast/-/enabled", json={"enabled": False}).raise_for_status()
    refusals = {"slow": "circuit_open", "fast": "disabled"}
    for endpoint, error in refusals.items():
        refused = httpx.get(
            f"{host.url}/tv/{endpoint}", headers={"x-request-id": f"cheap-{endpoint}"}, timeout=30
        )
        assert refused.status_code == 503
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["x-request-id"] == f"cheap-{endpoint}"
        body = refused.json()
        assert (body["error"], body["request_id"]) == (error, f"cheap-{endpoint}")
        assert body["message"]
        (line,) = [e for e in host.log_events() if e.get("request_id") == f"cheap-{endpoint}"]
        assert (line["event"], line["status"], line["outcome"]) == ("request", 503, error)
    scrape = Scrape(host)
    counted = {
        endpoint: scrape.value(
            "scripthost_requests_total", endpoint=f"/{endpoint}", status="503", outcome=error
        )
        for endpoint, error in refusals.items()
    }
    assert counted == {"slow": 3 + 1, "fast": 1}


def test_refusals_of_an_endpoint_that_will_not_run_are_held_at_most_max_held_at_once(
    start_host: HostFactory,
) -> None:
    """A client asking again at once cannot make the host refuse in a tight loop; the
    held refusals are capped (each keeps a connection open) and hold up nobody else."""
    host = start_host("--refusal-hold-ms", "10000", "--max-held-refusals", "2")
    with host.admin() as admin:
        admin.put("/endpoints/tv/slow/-/enabled", json={"enabled": False}).raise_for_status()
    with ThreadPoolExecutor(2) as pool:
        paced = [pool.submit(get, host, "slow") for _ in range(2)]
        _until_held(host, 2)
        beyond_the_cap = get(host, "slow")
        served = get(host, "fast")
        during = host.host_info()
        answered_while_held = [future.done() for future in paced]
        refusals = [future.result() for future in paced]
    assert (during["held_refusals"], during["unpaced_refusals"]) == (2, 1)
    assert answered_while_held == [False, False]
    assert served.status_code == 200
    for refused in (beyond_the_cap, *refusals):
        assert (refused.status_code, refused.json()["error"]) == (503, "disabled")
        assert refused.headers["retry-after"] == "30"
    assert host.host_info()["held_refusals"] == 0


def _until_held(host: HostProcess, count: int) -> None:
    for _ in range(600):
        if host.host_info()["held_refusals"] == count:
            return
        time.sleep(0.05)
    raise AssertionError(f"the host never held {count} refusals")


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
    with ThreadPoolExecutor(4) as pool:
        sleeping = [pool.submit(status_and_error, f"{url}/tv/sleep-{name}") for name in "ab"]
        _until_both_workers_sleep(sleepy_host)
        other_team = status_and_error(f"{url}/music/home?user=42")
        slept = [future.result() for future in sleeping]
    assert other_team == (200, None)
    assert slept == [(504, "timeout")] * 2


def test_scripts_sleeping_on_a_timer_hold_no_cpu_slot(sleepy_host: HostProcess) -> None:
    """Both CPU slots' scripts wait on a WASI timer: another team's script runs meanwhile."""
    url = sleepy_host.url
    for endpoint in ("tv/sleep-a", "tv/sleep-b"):
        with sleepy_host.admin() as admin:
            quotas = {"timeout_ms": 10_000}
            admin.put(f"/endpoints/{endpoint}/-/quotas", json={"quotas": quotas}).raise_for_status()
    with ThreadPoolExecutor(2) as pool:
        sleeping = [pool.submit(status_and_error, f"{url}/tv/sleep-{name}") for name in "ab"]
        _until_paused(sleepy_host, 2)
        other_team = status_and_error(f"{url}/music/home?user=42")
        still_sleeping = [not future.done() for future in sleeping]
        slept = [future.result() for future in sleeping]
    assert other_team == (200, None)
    assert still_sleeping == [True, True]
    assert slept == [(504, "timeout")] * 2


def _until_paused(host: HostProcess, count: int) -> None:
    for _ in range(600):
        if Scrape(host).value("scripthost_sandbox_paused") == count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{count} scripts never waited at once")


def test_shutdown_does_not_wait_for_sleepers_beyond_their_deadline(
    sleepy_host: HostProcess,
) -> None:
    process = sleepy_host.process
    assert process is not None
    with ThreadPoolExecutor(2) as pool:
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
    return status_and_error(url)[0]


def status_and_error(url: str) -> tuple[int, str | None]:
    response = httpx.get(url, timeout=SLEEPER_TIMER_S * 2)
    error = response.json()["error"] if response.status_code >= 400 else None
    return response.status_code, error
