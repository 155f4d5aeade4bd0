"""Logs, metrics and stats for a success, a guest error, a timeout and a backend failure."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.hosts import HostProcess
from tests.support.servers import closed_port_url


@pytest.fixture(scope="module")
def host(
    tmp_path_factory: pytest.TempPathFactory, example_backend: str, built: dict[str, Path]
) -> Iterator[HostProcess]:
    served = HostProcess(
        tmp_path_factory.mktemp("observe") / "host",
        backends=[
            f"profile={example_backend}/profile",
            f"recommendations={closed_port_url()}/recommendations",
        ],
    ).start()
    served.cli("deploy", str(built["js"]), "--endpoint", "tv/home", "--config", "greeting=Hi")
    served.cli("deploy", str(built["throw"]), "--endpoint", "tv/throws")
    served.cli("deploy", str(built["loop"]), "--endpoint", "tv/slow")
    with served.admin() as admin:
        quotas = {"fuel": 10**13, "timeout_ms": 150}
        admin.put("/endpoints/tv/slow/-/quotas", json={"quotas": quotas}).raise_for_status()
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


def metric(host: HostProcess, name: str, **labels: str) -> float:
    text = host.metrics_text()
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_a_success_is_one_request_line_with_its_guest_lines(host: HostProcess) -> None:
    response = call(host, "/tv/home", "obs-success")
    assert response.status_code == 200
    line = request_line(host, "obs-success")
    assert (line["namespace"], line["endpoint"], line["version"]) == ("tv", "/home", "v1")
    assert (line["status"], line["outcome"]) == (200, "ok")
    assert line["fuel"] > 0
    assert line["duration_ms"] > 0
    assert "peak_memory" in line
    assert [c["service"] for c in line["backend_calls"]] == ["profile", "recommendations"]
    guest = [e for e in log_lines(host, "obs-success") if e["event"] == "guest"]
    assert [g["message"] for g in guest] == ["home rendered"]
    ok = {"namespace": "tv", "endpoint": "/home", "status": "200", "outcome": "ok"}
    assert metric(host, "scripthost_requests_total", **ok) == 1
    assert metric(host, "scripthost_request_duration_seconds_count", endpoint="/home") == 1
    assert metric(host, "scripthost_request_fuel_count", endpoint="/home") == 1
    assert metric(host, "scripthost_request_fuel_sum", endpoint="/home") == line["fuel"]


def test_a_guest_error_is_logged_counted_and_kept_with_its_trace(host: HostProcess) -> None:
    response = call(host, "/tv/throws", "obs-guest-error")
    assert response.status_code == 500
    line = request_line(host, "obs-guest-error")
    assert (line["status"], line["outcome"]) == (500, "guest_error")
    assert "kaboom" in line["failure_message"]
    labels = {"endpoint": "/throws", "outcome": "guest_error", "status": "500"}
    assert metric(host, "scripthost_requests_total", **labels) == 1
    with host.admin() as admin:
        stats = admin.get("/stats").json()
    (failure,) = [f for f in stats["recent_failures"] if f["request_id"] == "obs-guest-error"]
    assert failure["failure"] == "guest_error"
    assert "kaboom" in failure["guest_detail"]
    assert isinstance(failure["trace"], list)


def test_a_timeout_is_logged_and_counted(host: HostProcess) -> None:
    response = call(host, "/tv/slow", "obs-timeout")
    assert response.status_code == 504
    line = request_line(host, "obs-timeout")
    assert (line["status"], line["outcome"]) == (504, "timeout")
    assert line["duration_ms"] >= 150
    labels = {"endpoint": "/slow", "outcome": "timeout", "status": "504"}
    assert metric(host, "scripthost_requests_total", **labels) == 1


def test_a_backend_failure_is_logged_and_counted_per_service(host: HostProcess) -> None:
    response = call(host, "/tv/home", "obs-backend")
    assert response.json()["degraded"] is True
    calls = request_line(host, "obs-backend")["backend_calls"]
    assert [(c["service"], c["error"]) for c in calls] == [
        ("profile", None),
        ("recommendations", "unavailable"),
    ]
    failed = {"service": "recommendations", "outcome": "unavailable"}
    assert metric(host, "scripthost_backend_calls_total", **failed) >= 1
    assert metric(host, "scripthost_backend_calls_total", service="profile", outcome="200") >= 1
    assert metric(host, "scripthost_backend_call_duration_seconds_count", service="profile") >= 1


def test_compiles_and_cache_activity_are_metrics_and_log_lines(host: HostProcess) -> None:
    assert metric(host, "scripthost_module_cache_events_total", event="compiles") == 3
    assert metric(host, "scripthost_compile_seconds_count") == 3
    compiled = [e for e in host.log_events() if e.get("event") == "module compiled"]
    assert len(compiled) == 3
    assert all(e["seconds"] >= 0 for e in compiled)


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
    quota = [a for a in actions if a["path"] == "/admin/v1/endpoints/tv/slow/-/quotas"]
    assert [(a["method"], a["status"], a["actor"]) for a in quota] == [("PUT", 200, "api-team")]
    uploads = [a for a in actions if a["path"].endswith("/-/versions") and a["method"] == "POST"]
    assert len(uploads) == 3
    assert {a["status"] for a in uploads} == {201}
