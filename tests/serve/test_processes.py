"""`serve --processes 2`: two full hosts on one socket, seen whole from outside.

The parent hands connections to the processes in turn, so tests send each
request on a fresh connection and read who served it from the log (every
line names its pid) or from `/admin/v1/host` (it answers with its pid).
Loops that wait for both processes are bounded by a count of tries: they
guard against a hang, they are no speed expectation.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from host.processes._supervisor import METRICS_ENV
from tests.support.hosts import ADMIN_TOKEN, SCRIPTHOST, HostProcess
from tests.support.metrics import Scrape
from tests.support.recording import RecordingBackend, recording_backend
from tests.support.servers import free_port

PROCESSES = 2
_TRIES = 500
# Requests held in flight when a process is killed, and sent once it is gone.
HELD = 8
AFTER_KILL = 8


@pytest.fixture
def held() -> Iterator[RecordingBackend]:
    with recording_backend({"held": True}) as backend:
        yield backend


@pytest.fixture
def host(tmp_path: Path, built: dict[str, Path], held: RecordingBackend) -> Iterator[HostProcess]:
    """Two processes; `tv/home` answers at once, `tv/hold` waits on `held`."""
    catalogue = tmp_path / "catalogue.json"
    services = [{"name": "held", "url": held.url, "timeout_ms": 60_000}]
    catalogue.write_text(json.dumps({"services": services}))
    served = HostProcess(
        tmp_path / "host", processes=PROCESSES, extra_args=["--catalogue", str(catalogue)]
    ).start()
    served.cli("deploy", str(built["v2"]), "--endpoint", "tv/home")
    served.cli("deploy", str(built["reach"]), "--endpoint", "tv/hold")
    put_quotas(served, "tv/hold", {"timeout_ms": 60_000})
    wait_for_every_process(served, lambda info: info["endpoints"] == 2)
    yield served
    served.stop()


def put_quotas(host: HostProcess, endpoint: str, quotas: dict[str, int]) -> None:
    with host.admin() as admin:
        admin.put(f"/endpoints/{endpoint}/-/quotas", json={"quotas": quotas}).raise_for_status()


def host_info(host: HostProcess) -> dict[str, Any]:
    """`/admin/v1/host` on a connection of its own: whichever process accepts it answers."""
    with host.admin() as admin:
        info: dict[str, Any] = admin.get("/host").raise_for_status().json()
        return info


def children(host: HostProcess) -> set[int]:
    """The parent's live children, as its log tells."""
    assert host.process is not None
    started, exited = set(), set()
    for event in host.log_events():
        if event.get("pid") == host.process.pid and "child_pid" in event:
            if event["event"] == "process started":
                started.add(event["child_pid"])
            elif event["event"] == "process exited":
                exited.add(event["child_pid"])
    return started - exited


def wait_for_every_process(host: HostProcess, ready: Callable[[dict[str, Any]], bool]) -> None:
    """Ask until every live child has answered `/host` with what `ready` accepts."""
    pending = children(host)
    assert len(pending) == PROCESSES, host.log_tail()
    for _ in range(_TRIES):
        info = host_info(host)
        if ready(info):
            pending.discard(info["pid"])
        if not pending:
            return
    raise AssertionError(f"processes {pending} never answered as expected")


def get(host: HostProcess, endpoint: str) -> httpx.Response:
    params = {"service": "held", "path": "/x"} if endpoint == "hold" else {}
    # A client per request: a connection per request, accepted by either process.
    with httpx.Client(base_url=host.url, timeout=90) as client:
        return client.get(f"/tv/{endpoint}", params=params)


def serving_pids(host: HostProcess, endpoint: str) -> set[int]:
    return {
        event["pid"]
        for event in host.log_events()
        if event.get("event") == "request" and event.get("endpoint") == f"/{endpoint}"
    }


def established_on(pid: int, port: int) -> int:
    """Connections to `port` that process `pid` has accepted and not closed (from /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            established = fields[3] == "01"
            if local_port == port and established and fields[9] in inodes:
                count += 1
    return count


def test_requests_are_served_by_both_processes_and_counted_once_across_them(
    host: HostProcess, page: Page
) -> None:
    sent = 0
    while serving_pids(host, "home") != children(host):
        assert sent < _TRIES, "one process served every request"
        assert get(host, "home").status_code == 200
        sent += 1
    scrape = Scrape(host)
    assert scrape.value("scripthost_requests_total", endpoint="/home", status="200") == sent
    # One process compiled the module at its deploy; the other loaded its artifact.
    assert scrape.value("scripthost_compile_seconds_count") == 2  # tv/home and tv/hold
    with host.admin() as admin:
        stats = admin.get("/stats").raise_for_status().json()
    assert stats["processes"] == PROCESSES
    (home,) = [s for s in stats["endpoints"] if s["path"] == "/home"]
    assert home["requests"] == sent
    assert home["outcomes"] == {"ok": sent}
    # The console draws the same merged figures.
    page.goto(f"{host.url}/console/")
    page.fill("#token", ADMIN_TOKEN)
    page.click("button[type=submit]")
    expect(page.locator("#host-load")).to_contain_text(f"({PROCESSES} processes)")
    rps = home["rps"]
    expect(page.get_by_test_id("rps-tv/home")).to_have_text(
        str(int(rps)) if float(rps).is_integer() else repr(rps)
    )


def test_connections_opened_at_once_are_dealt_evenly_between_the_processes(
    host: HostProcess,
) -> None:
    per_process = 8
    with contextlib.ExitStack() as stack:
        clients = [
            stack.enter_context(socket.create_connection(("127.0.0.1", host.port)))
            for _ in range(per_process * PROCESSES)
        ]
        for client in clients:
            client.sendall(b"GET /healthz HTTP/1.1\r\nhost: scripthost\r\n\r\n")
        for client in clients:
            assert client.recv(65536).startswith(b"HTTP/1.1 200")
        on_each = {pid: established_on(pid, host.port) for pid in children(host)}
    assert list(on_each.values()) == [per_process] * PROCESSES, on_each


def test_a_killed_process_fails_only_its_own_requests_and_is_replaced(
    host: HostProcess, held: RecordingBackend
) -> None:
    held.hold()
    with ThreadPoolExecutor(HELD + AFTER_KILL) as pool:
        in_flight = [pool.submit(get, host, "hold") for _ in range(HELD)]
        held.wait_for_in_flight(HELD)
        # Every held request has been accepted: each is on one process's books.
        on_each = {pid: established_on(pid, host.port) for pid in children(host)}
        assert sum(on_each.values()) == HELD, on_each
        victim = max(on_each, key=lambda pid: on_each[pid])
        os.kill(victim, signal.SIGKILL)
        # Sent once the parent has reaped the victim (a signal is not instant: a
        # process about to die could still accept one), while its replacement starts.
        replacement = replaced(host, victim)
        after_kill = [pool.submit(get, host, "hold") for _ in range(AFTER_KILL)]
        held.wait_for_in_flight(HELD + AFTER_KILL)
        held.release()
        failed = [f for f in in_flight if isinstance(f.exception(), httpx.TransportError)]
        answered = [f.result() for f in in_flight if f not in failed]
        answered_after = [f.result() for f in after_kill]
    assert len(failed) == on_each[victim]
    assert [r.status_code for r in answered] == [200] * (HELD - on_each[victim])
    assert [r.status_code for r in answered_after] == [200] * AFTER_KILL
    assert replacement in children(host)
    wait_for_every_process(host, lambda info: info["endpoints"] == 2)
    for _ in range(_TRIES):
        if replacement in serving_pids(host, "home"):
            break
        assert get(host, "home").status_code == 200
    else:
        raise AssertionError("the replacement never served a request")
    served = HELD - on_each[victim] + AFTER_KILL
    assert Scrape(host).value("scripthost_requests_total", endpoint="/hold") == served


def replaced(host: HostProcess, victim: int) -> int:
    for _ in range(_TRIES):
        for event in host.log_events():
            if event.get("event") == "process replaced" and event["child_pid"] == victim:
                replacement: int = event["replacement_pid"]
                return replacement
        time.sleep(0.05)
    raise AssertionError(f"process {victim} was never replaced:\n{host.log_tail()}")


def test_sigterm_to_the_parent_stops_every_process(tmp_path: Path) -> None:
    served = HostProcess(tmp_path / "host", processes=PROCESSES).start()
    assert served.process is not None
    parent = served.process
    stopping = children(served)
    assert len(stopping) == PROCESSES
    served.stop()
    assert parent.returncode == 0
    for pid in stopping:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not any(event.get("event") == "process exited" for event in served.log_events())


def test_a_child_that_stops_on_its_own_is_replaced_too(tmp_path: Path) -> None:
    served = HostProcess(tmp_path / "host", processes=PROCESSES).start()
    try:
        # One that dies while starting up stops the host instead (the next test).
        wait_for_every_process(served, lambda info: True)
        stopped = min(children(served))
        os.kill(stopped, signal.SIGTERM)
        replacement = replaced(served, stopped)
        assert served.process is not None
        assert served.process.poll() is None
        wait_for_every_process(served, lambda info: True)
        assert replacement in children(served)
    finally:
        served.stop()


def lowest_free_descriptor(pid: int) -> int:
    used = {int(fd.name) for fd in Path(f"/proc/{pid}/fd").iterdir()}
    return min(set(range(len(used) + 1)) - used)


def test_a_parent_out_of_descriptors_pauses_accepting_and_loses_nothing(tmp_path: Path) -> None:
    served = HostProcess(tmp_path / "host", processes=PROCESSES).start()
    assert served.process is not None
    parent = served.process.pid
    soft, hard = resource.prlimit(parent, resource.RLIMIT_NOFILE)
    try:
        # The parent can open no descriptor more: its next accept fails with EMFILE.
        resource.prlimit(parent, resource.RLIMIT_NOFILE, (lowest_free_descriptor(parent), hard))
        with socket.create_connection(("127.0.0.1", served.port)) as waiting:
            waiting.sendall(b"GET /healthz HTTP/1.1\r\nhost: scripthost\r\n\r\n")
            wait_for_event(served, "cannot accept connections for now")
            assert served.process.poll() is None
            resource.prlimit(parent, resource.RLIMIT_NOFILE, (soft, hard))
            # The connection waited in the queue and is served once accepting resumes.
            waiting.settimeout(60)
            assert waiting.recv(65536).startswith(b"HTTP/1.1 200")
        assert served.status("/healthz") == 200
    finally:
        resource.prlimit(parent, resource.RLIMIT_NOFILE, (soft, hard))
        served.stop()


def cores_of_every_thread(pid: int) -> set[frozenset[int]]:
    return {
        frozenset(os.sched_getaffinity(int(task.name)))
        for task in Path(f"/proc/{pid}/task").iterdir()
    }


def test_each_process_keeps_to_a_core_of_its_own_and_its_replacement_to_the_same(
    tmp_path: Path,
) -> None:
    usable = sorted(os.sched_getaffinity(0))  # the host inherits the test's
    served = HostProcess(tmp_path / "host", processes=PROCESSES).start()
    try:
        wait_for_every_process(served, lambda info: True)
        cores = {pid: cores_of_every_thread(pid) for pid in children(served)}
        # Every thread of a process on the one core, the cores dealt round robin.
        assert all(
            len(threads) == 1 and len(next(iter(threads))) == 1 for threads in cores.values()
        )
        dealt = sorted(min(next(iter(threads))) for threads in cores.values())
        assert dealt == sorted(usable[slot % len(usable)] for slot in range(PROCESSES))

        victim = min(cores)
        os.kill(victim, signal.SIGKILL)
        replacement = replaced(served, victim)
        wait_for_every_process(served, lambda info: True)
        assert cores_of_every_thread(replacement) == cores[victim]
    finally:
        served.stop()


def test_with_no_pin_cores_every_process_may_run_on_every_core(tmp_path: Path) -> None:
    usable = frozenset(os.sched_getaffinity(0))
    served = HostProcess(tmp_path / "host", processes=PROCESSES, extra_args=["--no-pin-cores"])
    served.start()
    try:
        wait_for_every_process(served, lambda info: True)
        for pid in children(served):
            assert cores_of_every_thread(pid) == {usable}
    finally:
        served.stop()


def test_a_process_that_cannot_start_stops_the_host_instead_of_restarting(
    tmp_path: Path,
) -> None:
    tmp_path.joinpath("tokens.json").write_text('{"tokens": [')
    completed = subprocess.run(
        [
            SCRIPTHOST,
            "serve",
            *("--processes", str(PROCESSES), "--port", str(free_port())),
            *("--data-dir", str(tmp_path / "data"), "--log-format", "json"),
            *("--tokens", str(tmp_path / "tokens.json")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 1
    events = [json.loads(line) for line in completed.stderr.splitlines() if line.startswith("{")]
    assert "process failed to start; stopping the host" in [e["event"] for e in events]
    assert [e["event"] for e in events].count("process started") == PROCESSES


def test_the_processes_count_their_metrics_in_memory(host: HostProcess) -> None:
    # Counts mapped from a disk filesystem are written back to it, and a write
    # can wait on that with the GIL held (see host.processes._supervisor).
    assert get(host, "home").status_code == 200
    for pid in children(host):
        metrics = metrics_dir_of(pid)
        assert list(metrics.glob("*.db")), "the processes write their metrics elsewhere"
        assert filesystem_type(metrics) == "tmpfs"


@pytest.mark.parametrize("in_memory", [False, True], ids=["mapped", "in-memory"])
def test_the_processes_map_artifacts_unless_told_to_keep_them_in_memory(
    tmp_path: Path, built: dict[str, Path], in_memory: bool
) -> None:
    served = HostProcess(
        tmp_path / "host",
        processes=PROCESSES,
        extra_args=["--artifacts-in-memory"] if in_memory else [],
    ).start()
    try:
        served.cli("deploy", str(built["v2"]), "--endpoint", "tv/home")
        # Connections are dealt to the processes in turn: once the version is
        # active in both, a few in a row reach each, and each loads the module.
        in_a_row = [200] * 2 * PROCESSES
        for _ in range(_TRIES):
            if [get(served, "home").status_code for _ in in_a_row] == in_a_row:
                break
        pids = children(served)
        assert serving_pids(served, "home") == pids
        artifacts = str(served.data_dir / "artifacts")
        maps_artifacts = {pid: artifacts in Path(f"/proc/{pid}/maps").read_text() for pid in pids}
        assert maps_artifacts == dict.fromkeys(pids, not in_memory)
    finally:
        served.stop()


def filesystem_type(path: Path) -> str:
    """The type of the filesystem `path` is on, from the mount table."""
    mounts = [line.split()[1:3] for line in Path("/proc/self/mounts").read_text().splitlines()]
    resolved = path.resolve()
    on = [(point, kind) for point, kind in mounts if resolved.is_relative_to(point)]
    return max(on, key=lambda mount: len(mount[0]))[1]


def metrics_dir_of(pid: int) -> Path:
    """Child `pid`'s metrics directory, named in its environment."""
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    prefix = f"{METRICS_ENV}=".encode()
    (metrics,) = [entry[len(prefix) :].decode() for entry in environ if entry.startswith(prefix)]
    return Path(metrics)


def sibling_socket_of(pid: int) -> Path:
    """Where child `pid` answers its siblings: in the host's temporary directory, which
    every child finds beside its metrics directory."""
    return metrics_dir_of(pid).parent / "siblings" / f"{pid}.sock"


def ask_sibling(pid: int, request: dict[str, Any]) -> Any:
    with socket.socket(socket.AF_UNIX) as connection:
        connection.settimeout(30)
        connection.connect(str(sibling_socket_of(pid)))
        connection.sendall(json.dumps(request).encode() + b"\n")
        answer = b"".join(iter(lambda: connection.recv(65536), b""))
    return json.loads(answer)


def request_lines(host: HostProcess, endpoint: str) -> list[dict[str, Any]]:
    return [
        event
        for event in host.log_events()
        if event.get("event") == "request" and event.get("endpoint") == endpoint
    ]


def wait_for_event(host: HostProcess, event: str) -> dict[str, Any]:
    for _ in range(_TRIES):
        found = [e for e in host.log_events() if e.get("event") == event]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no {event!r} in the log:\n{host.log_tail()}")


@pytest.fixture
def looping(tmp_path: Path, built: dict[str, Path]) -> Iterator[HostProcess]:
    """Two processes serving `tv/slow`, which runs out of its fuel quota."""
    # Refusals sent at once: the tests read several while the breaker is open.
    served = HostProcess(
        tmp_path / "host", processes=PROCESSES, extra_args=["--refusal-hold-ms", "0"]
    ).start()
    try:
        served.cli("deploy", str(built["loop"]), "--endpoint", "tv/slow")
        put_quotas(served, "tv/slow", {"fuel": 1_000_000})
        wait_for_every_process(served, lambda info: info["endpoints"] == 1)
        yield served
    finally:
        served.stop()


def trip_a_breaker(served: HostProcess) -> int:
    """Request `tv/slow` one at a time, each on a connection of its own, until a breaker
    trips; the pid of the process whose breaker did."""
    for _ in range(_TRIES):
        failed = get(served, "slow").json()["error"]
        assert failed == "fuel_exhausted"
        if any(e.get("event") == "circuit breaker opened" for e in served.log_events()):
            break
    else:
        raise AssertionError("the breaker never tripped")
    pid: int = wait_for_event(served, "circuit breaker opened")["pid"]
    return pid


def test_a_breaker_tripped_in_one_process_opens_in_every_process(looping: HostProcess) -> None:
    """An endpoint running out of fuel fails five times in the process whose breaker trips,
    and fewer in the other, which then refuses it too: not five failures per process."""
    served = looping
    tripped = trip_a_breaker(served)
    (follower,) = children(served) - {tripped}
    followed = wait_for_event(served, "circuit breaker opened by a sibling")
    assert (followed["pid"], followed["namespace"], followed["endpoint"]) == (
        follower,
        "tv",
        "/slow",
    )

    refused_by: set[int] = set()
    for attempt in range(_TRIES):
        if refused_by == {tripped, follower}:
            break
        request_id = f"after-trip-{attempt}"
        with httpx.Client(base_url=served.url, timeout=90) as client:
            refused = client.get("/tv/slow", headers={"x-request-id": request_id})
        body = refused.json()
        assert (refused.status_code, body["error"]) == (503, "circuit_open"), body
        assert body["message"] == (
            "this endpoint failed too often and is paused; it is tried again shortly"
        )
        assert int(refused.headers["retry-after"]) >= 1
        (line,) = [e for e in served.log_events() if e.get("request_id") == request_id]
        refused_by.add(line["pid"])
    else:
        raise AssertionError(f"only {refused_by} refused the endpoint")

    failures = [e for e in request_lines(served, "/slow") if e["outcome"] == "fuel_exhausted"]
    on_each = {pid: sum(e["pid"] == pid for e in failures) for pid in (tripped, follower)}
    assert on_each[tripped] == 5
    assert on_each[follower] < 5
    assert len(failures) < 5 * PROCESSES
    fuel_exhausted = Scrape(served).value(
        "scripthost_requests_total", endpoint="/slow", outcome="fuel_exhausted"
    )
    assert fuel_exhausted == len(failures)
    # One trip of its own in the host; the follower told nobody (no echo).
    assert Scrape(served).value("scripthost_breaker_trips_total", endpoint="/slow") == 1
    opened = [e for e in served.log_events() if e.get("event") == "circuit breaker opened"]
    assert [e["pid"] for e in opened] == [tripped]

    # What else arrives on a sibling's socket is checked: a trip for an endpoint the
    # process does not serve is ignored; a snapshot is still answered.
    unknown = {"namespace": "tv", "path": "/nowhere", "cooldown_s": 60}
    assert ask_sibling(follower, {"trip": unknown}) == {"followed": False}
    assert ask_sibling(follower, {"ask": "snapshot"})["running"] == 0


def test_after_a_trip_one_process_probes_and_the_other_waits_for_its_answer(
    looping: HostProcess,
) -> None:
    """The probe after a trip runs in the process that tripped: the other stays open a
    base cooldown (5 s) longer, and the probe's failure, a new trip, keeps it open. A
    probe that runs into its 2 s wall-clock quota held a second probe when each process
    probed after its own cooldown."""
    served = looping
    tripped = trip_a_breaker(served)
    tripped_at = time.monotonic()
    (follower,) = children(served) - {tripped}
    wait_for_event(served, "circuit breaker opened by a sibling")
    failed_before = len(failures_of(served))
    # From now on a run of the endpoint lasts until its wall-clock quota ends it.
    put_quotas(served, "tv/slow", {"fuel": 10**15, "timeout_ms": 2_000})
    # Requests keep arriving, on both processes, from before the first process's deadline
    # (5 s) until before the other's (10 s); each on a connection of its own, without
    # waiting for the ones before (the probe takes 2 s).
    with ThreadPoolExecutor(max_workers=32) as pool:
        sent = []
        while (elapsed := time.monotonic() - tripped_at) < 8.5:
            if elapsed > 3.0:
                sent.append(pool.submit(get, served, "slow"))
            time.sleep(0.1)
        answers = [future.result() for future in sent]
    probes = failures_of(served)[failed_before:]
    assert [(e["pid"], e["outcome"]) for e in probes] == [(tripped, "timeout")], probes
    assert {answer.status_code for answer in answers} == {503, 504}
    refusing = {e["pid"] for e in request_lines(served, "/slow") if e["outcome"] == "circuit_open"}
    assert refusing == {tripped, follower}
    retrip = [e for e in served.log_events() if e.get("event") == "circuit breaker opened"]
    assert [e["pid"] for e in retrip] == [tripped, tripped]


def failures_of(host: HostProcess) -> list[dict[str, Any]]:
    """The request lines of `tv/slow` that ran and failed, in order."""
    ran = ("fuel_exhausted", "timeout")
    return [e for e in request_lines(host, "/slow") if e["outcome"] in ran]


def test_a_successful_probe_closes_the_breaker_in_every_process(
    looping: HostProcess, built: dict[str, Path]
) -> None:
    served = looping
    tripped = trip_a_breaker(served)
    (follower,) = children(served) - {tripped}
    wait_for_event(served, "circuit breaker opened by a sibling")
    # The endpoint is mended; its breakers stay open until a probe says so.
    before = host_info(served)["route_seq"]
    put_quotas(served, "tv/slow", {"fuel": 500_000_000})
    served.cli("deploy", str(built["v2"]), "--endpoint", "tv/slow")
    wait_for_every_process(served, lambda info: info["route_seq"] > before)
    for _ in range(_TRIES):
        if get(served, "slow").status_code == 200:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the endpoint never served again")
    closed = wait_for_event(served, "circuit breaker closed by a sibling's probe")
    assert (closed["pid"], closed["endpoint"]) == (follower, "/slow")
    served_by = {e["pid"] for e in request_lines(served, "/slow") if e["outcome"] == "ok"}
    assert served_by == {tripped}
    # Before its own deadline, the follower serves again: no probe of its own needed.
    for _ in range(4):
        assert get(served, "slow").status_code == 200
    served_by = {e["pid"] for e in request_lines(served, "/slow") if e["outcome"] == "ok"}
    assert served_by == {tripped, follower}
