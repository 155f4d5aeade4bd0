"""Logs, metrics and stats: successes, guest errors, timeouts, backend failures and deploys.

One host serves the whole module, so every test reads counters as the change
its own requests made, never as totals: the tests pass in any order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import wasmtime

from tests.support.hosts import HostProcess
from tests.support.metrics import Scrape
from tests.support.servers import closed_port_url

ECHO_WAT = Path(__file__).parents[1] / "sandbox" / "wat" / "echo.wat"
# The echo module's linear memory: two 64 KiB pages, which it never grows.
ECHO_MEMORY_BYTES = 2 * 64 * 1024
# What the fixture deploys: endpoint -> the module it runs.
DEPLOYS = {"home": "js", "throws": "throw", "slow": "loop", "tight": "js", "echo": "echo.wasm"}
QUOTAS = {"slow": {"fuel": 10**13, "timeout_ms": 150}, "tight": {"response_bytes": 16}}


@pytest.fixture(scope="module")
def host(
    tmp_path_factory: pytest.TempPathFactory, example_backend: str, built: dict[str, Path]
) -> Iterator[HostProcess]:
    data_dir = tmp_path_factory.mktemp("observe")
    echo = data_dir / "echo.wasm"
    echo.write_bytes(bytes(wasmtime.wat2wasm(ECHO_WAT.read_text())))
    modules = {**built, "echo.wasm": echo}
    served = HostProcess(
        data_dir / "host",
        backends=[
            f"profile={example_backend}/profile",
            f"recommendations={closed_port_url()}/recommendations",
        ],
    ).start()
    for endpoint, module in DEPLOYS.items():
        served.cli("deploy", str(modules[module]), "--endpoint", f"tv/{endpoint}")
    with served.admin() as admin:
        for endpoint, quotas in QUOTAS.items():
            url = f"/endpoints/tv/{endpoint}/-/quotas"
            admin.put(url, json={"quotas": quotas}).raise_for_status()
    yield served
    served.stop()


def call(host: HostProcess, path: str, request_id: str) -> httpx.Response:
    with host.device() as device:
        return device.get(path, params={"user": "42"}, headers={"x-request-id": request_id})


def log_lines(host: HostProcess, request_id: str) -> list[dict[str, Any]]:
    return [e for e in host.log_events() if e.get("request_id") == request_id]


def request_line(host: HostProcess, request_id: str) -> dict[str, Any]:
    (line,) = [e for e in log_lines(host, request_id) if e["event"] == "request"]
    return line


def test_a_success_is_one_request_line_with_its_guest_lines(host: HostProcess) -> None:
    before = Scrape(host)
    response = call(host, "/tv/home", "obs-success")
    after = Scrape(host)
    assert response.status_code == 200
    line = request_line(host, "obs-success")
    assert (line["namespace"], line["endpoint"], line["version"]) == ("tv", "/home", "v1")
    assert (line["status"], line["outcome"]) == (200, "ok")
    assert line["fuel"] > 0
    assert line["duration_ms"] > 0
    # A component's peak memory cannot be read (README, "Known limits").
    assert line["peak_memory"] is None
    assert [c["service"] for c in line["backend_calls"]] == ["profile", "recommendations"]
    guest = [e for e in log_lines(host, "obs-success") if e["event"] == "guest"]
    assert [g["message"] for g in guest] == ["home rendered"]
    ok = {"namespace": "tv", "endpoint": "/home", "status": "200", "outcome": "ok"}
    assert after.minus(before, "scripthost_requests_total", **ok) == 1
    home = {"endpoint": "/home"}
    assert after.minus(before, "scripthost_request_duration_seconds_count", **home) == 1
    assert after.minus(before, "scripthost_request_fuel_count", **home) == 1
    assert after.minus(before, "scripthost_request_fuel_sum", **home) == line["fuel"]
    assert after.minus(before, "scripthost_request_memory_bytes_count", **home) == 0


def test_peak_memory_is_logged_and_measured_for_a_core_module(host: HostProcess) -> None:
    before = Scrape(host)
    response = call(host, "/tv/echo", "obs-memory")
    after = Scrape(host)
    assert response.status_code == 200
    assert request_line(host, "obs-memory")["peak_memory"] == ECHO_MEMORY_BYTES
    echo = {"endpoint": "/echo"}
    assert after.minus(before, "scripthost_request_memory_bytes_count", **echo) == 1
    assert after.minus(before, "scripthost_request_memory_bytes_sum", **echo) == ECHO_MEMORY_BYTES
    with host.admin() as admin:
        (stats,) = [e for e in admin.get("/stats").json()["endpoints"] if e["path"] == "/echo"]
    assert stats["memory_p50"] == ECHO_MEMORY_BYTES


def test_a_guest_error_is_logged_counted_and_kept(host: HostProcess) -> None:
    before = Scrape(host)
    response = call(host, "/tv/throws", "obs-guest-error")
    after = Scrape(host)
    assert response.status_code == 500
    line = request_line(host, "obs-guest-error")
    assert (line["status"], line["outcome"]) == (500, "guest_error")
    assert "kaboom" in line["failure_message"]
    labels = {"endpoint": "/throws", "outcome": "guest_error", "status": "500"}
    assert after.minus(before, "scripthost_requests_total", **labels) == 1
    failure = recent_failure(host, "obs-guest-error")
    assert failure["failure"] == "guest_error"
    assert "kaboom" in failure["guest_detail"]
    # The script threw before calling the host at all.
    assert failure["trace"] == []


def test_a_failure_keeps_the_trace_of_every_host_call_it_made(host: HostProcess) -> None:
    # The home script runs to the end (two backend calls, two config reads),
    # and then its response is too large for the endpoint's quota.
    response = call(host, "/tv/tight", "obs-trace")
    assert response.json()["error"] == "output_exceeded"
    trace = recent_failure(host, "obs-trace")["trace"]
    calls = [(entry["call"], entry["detail"]) for entry in trace]
    assert calls == [
        ("backend.call", "profile GET /users/42"),
        ("backend.call", "recommendations GET /for/42"),
        ("config.get", "max_items"),
        ("config.get", "greeting"),
    ]
    profile, recommendations, max_items, greeting = (entry["result"] for entry in trace)
    assert re.fullmatch(r"200 \(\d+ bytes\)", profile)
    assert recommendations.startswith("unavailable: ")
    assert (max_items, greeting) == ("none", "none")
    assert all(entry["duration_ms"] >= 0 for entry in trace)


def recent_failure(host: HostProcess, request_id: str) -> dict[str, Any]:
    with host.admin() as admin:
        stats = admin.get("/stats").json()
    (failure,) = [f for f in stats["recent_failures"] if f["request_id"] == request_id]
    return failure  # type: ignore[no-any-return]


def test_a_timeout_is_logged_and_counted(host: HostProcess) -> None:
    before = Scrape(host)
    response = call(host, "/tv/slow", "obs-timeout")
    after = Scrape(host)
    assert response.status_code == 504
    line = request_line(host, "obs-timeout")
    assert (line["status"], line["outcome"]) == (504, "timeout")
    assert line["duration_ms"] >= QUOTAS["slow"]["timeout_ms"]
    labels = {"endpoint": "/slow", "outcome": "timeout", "status": "504"}
    assert after.minus(before, "scripthost_requests_total", **labels) == 1


def test_a_backend_failure_is_logged_and_counted_per_service(host: HostProcess) -> None:
    before = Scrape(host)
    response = call(host, "/tv/home", "obs-backend")
    after = Scrape(host)
    assert response.json()["degraded"] is True
    calls = request_line(host, "obs-backend")["backend_calls"]
    assert [(c["service"], c["error"]) for c in calls] == [
        ("profile", None),
        ("recommendations", "unavailable"),
    ]
    failed = {"service": "recommendations", "outcome": "unavailable"}
    assert after.minus(before, "scripthost_backend_calls_total", **failed) == 1
    profile = {"service": "profile"}
    assert after.minus(before, "scripthost_backend_calls_total", outcome="200", **profile) == 1
    assert after.minus(before, "scripthost_backend_call_duration_seconds_count", **profile) == 1


def test_compiles_and_cache_activity_are_metrics_and_log_lines(host: HostProcess) -> None:
    # One compile per distinct module the fixture deployed; `tight` runs
    # `home`'s module, which was compiled already.
    modules = len(set(DEPLOYS.values()))
    scrape = Scrape(host)
    assert scrape.value("scripthost_module_cache_events_total", event="compiles") == modules
    assert scrape.value("scripthost_compile_seconds_count") == modules
    compiled = [e for e in host.log_events() if e.get("event") == "module compiled"]
    assert len(compiled) == modules
    assert all(e["seconds"] >= 0 for e in compiled)


def test_every_deploy_logs_its_upload_and_activation(host: HostProcess) -> None:
    events = host.log_events()
    for event in ("version uploaded", "version activated"):
        lines = [e for e in events if e.get("event") == event]
        assert [(e["namespace"], e["endpoint"], e["version"], e["actor"]) for e in lines] == [
            ("tv", f"/{endpoint}", "v1", "api-team") for endpoint in DEPLOYS
        ]
    uploaded = [e for e in events if e.get("event") == "version uploaded"]
    assert all(len(e["module_hash"]) == 64 and e["bytes"] > 0 for e in uploaded)


def test_the_stats_api_summarises_each_endpoint(host: HostProcess) -> None:
    for n in range(3):
        call(host, "/tv/home", f"obs-stats-{n}")
    with host.admin() as admin:
        stats = admin.get("/stats").json()
    (home,) = [e for e in stats["endpoints"] if e["path"] == "/home"]
    assert home["requests"] >= 3
    assert home["p50_ms"] > 0
    assert home["fuel_p50"] > 0
    assert home["breaker"] == "closed"
    assert sum(point["requests"] for point in home["series"]) >= 3
    assert {d["action"] for d in stats["deploys"]} >= {"version.added", "version.activated"}


def test_management_actions_are_logged_with_their_actor(host: HostProcess) -> None:
    actions = [e for e in host.log_events() if e.get("event") == "management action"]
    for endpoint in QUOTAS:
        quota = [a for a in actions if a["path"] == f"/admin/v1/endpoints/tv/{endpoint}/-/quotas"]
        assert [(a["method"], a["status"], a["actor"]) for a in quota] == [("PUT", 200, "api-team")]
    uploads = [a for a in actions if a["path"].endswith("/-/versions") and a["method"] == "POST"]
    assert len(uploads) == len(DEPLOYS)
    assert {a["status"] for a in uploads} == {201}
