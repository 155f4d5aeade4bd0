"""Every quota over HTTP: the right status and failure class, and changes without redeploy."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from host.limits import MiB
from tests.support.hosts import TV_TOKEN, HostProcess, example_backends
from tests.support.recording import recording_backend


@pytest.fixture(scope="module")
def host(
    tmp_path_factory: pytest.TempPathFactory, example_backend: str, built: dict[str, Path]
) -> Iterator[HostProcess]:
    served = HostProcess(
        tmp_path_factory.mktemp("quotas") / "host", backends=example_backends(example_backend)
    ).start()
    for name in ("js", "loop"):
        served.cli("deploy", str(built[name]), "--endpoint", f"tv/{name}")
    yield served
    served.stop()


@pytest.fixture
def endpoint_quotas(host: HostProcess) -> Iterator[Any]:
    """Set an endpoint's quota overrides for one test; they are cleared after it."""
    touched: list[str] = []

    def set_quotas(endpoint: str, **quotas: int) -> None:
        touched.append(endpoint)
        with host.admin() as admin:
            admin.put(f"/endpoints/tv/{endpoint}/-/quotas", json={"quotas": quotas})

    yield set_quotas
    with host.admin() as admin:
        for endpoint in touched:
            admin.put(f"/endpoints/tv/{endpoint}/-/quotas", json={"quotas": {}})


def call(host: HostProcess, endpoint: str) -> httpx.Response:
    with host.device() as device:
        return device.get(f"/tv/{endpoint}", params={"user": "42"})


@pytest.mark.parametrize(
    ("endpoint", "quotas", "status", "failure"),
    [
        ("js", {"fuel": 200_000}, 503, "fuel_exhausted"),
        ("js", {"memory_bytes": 8 * MiB}, 503, "memory_exceeded"),
        ("loop", {"fuel": 10**13, "timeout_ms": 200}, 504, "timeout"),
        ("js", {"response_bytes": 16}, 502, "output_exceeded"),
        ("js", {"log_bytes": 4}, 502, "output_exceeded"),
    ],
)
def test_per_request_quotas_end_in_their_failure_class(
    host: HostProcess,
    endpoint_quotas: Any,
    endpoint: str,
    quotas: dict[str, int],
    status: int,
    failure: str,
) -> None:
    baseline = call(host, endpoint)
    assert baseline.headers.get("x-scripthost-failure") != failure
    endpoint_quotas(endpoint, **quotas)
    response = call(host, endpoint)
    assert response.status_code == status, response.text
    assert response.headers["x-scripthost-failure"] == failure
    assert response.json()["error"] == failure


def test_the_backend_call_quota_refuses_calls_beyond_it(
    host: HostProcess, endpoint_quotas: Any
) -> None:
    endpoint_quotas("js", backend_calls=1)
    response = call(host, "js")
    assert response.status_code == 200
    assert response.json()["degraded"] is True
    request_line = [e for e in host.log_events() if e.get("event") == "request"][-1]
    assert [c["error"] for c in request_line["backend_calls"]] == [None, "quota-exceeded"]


def test_the_backend_concurrency_quota_bounds_a_batch(
    tmp_path: Path, built: dict[str, Path]
) -> None:
    # The home script sends its two backend calls as one batch. Each call waits
    # briefly for the other to arrive too: only calls that may run at once meet.
    answer = {"name": "Ada", "plan": "basic", "items": []}
    with recording_backend(answer, gather=2, patience=0.3) as service:
        served = HostProcess(
            tmp_path / "host",
            backends=[f"profile={service.url}/profile", f"recommendations={service.url}/rec"],
        ).start()
        try:
            served.cli("deploy", str(built["js"]), "--endpoint", "tv/home")
            with served.admin() as admin:
                quotas = {"backend_concurrency": 1}
                admin.put("/endpoints/tv/home/-/quotas", json={"quotas": quotas}).raise_for_status()
                one_at_a_time = served.status("/tv/home")
                max_with_quota = service.max_in_flight
                admin.put("/endpoints/tv/home/-/quotas", json={"quotas": {}}).raise_for_status()
                together = served.status("/tv/home")
        finally:
            served.stop()
    assert (one_at_a_time, together) == (200, 200)
    assert len(service.received) == 4
    assert (max_with_quota, service.max_in_flight) == (1, 2)


def test_the_concurrency_quota_answers_429(host: HostProcess, endpoint_quotas: Any) -> None:
    endpoint_quotas("loop", max_concurrency=1, fuel=10**13, timeout_ms=400)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        statuses = sorted(r.status_code for r in pool.map(lambda _: call(host, "loop"), range(4)))
    assert statuses[0] == 429
    assert statuses[-1] == 504


def test_the_rate_quota_answers_429_with_retry_after(
    host: HostProcess, endpoint_quotas: Any
) -> None:
    endpoint_quotas("js", rps=1, burst=2)
    started = time.monotonic()
    responses: list[httpx.Response] = []
    while not responses or responses[-1].status_code != 429:
        assert len(responses) < 30, "the rate quota never refused a call"
        responses.append(call(host, "js"))
    elapsed = time.monotonic() - started
    admitted = responses[:-1]
    # A full bucket admits the burst; then at most one call per second more.
    assert len(admitted) >= 2
    assert all(r.status_code == 200 for r in admitted)
    assert len(admitted) <= 2 + int(elapsed)
    limited = responses[-1]
    assert limited.json()["error"] == "rate_limited"
    assert int(limited.headers["retry-after"]) >= 1


def test_namespace_quotas_cap_module_size_and_endpoint_count(
    host: HostProcess, built: dict[str, Path]
) -> None:
    with host.admin() as admin:
        admin.put("/namespaces/small/-/quotas", json={"quotas": {"max_module_bytes": MiB}})
        admin.put("/namespaces/few/-/quotas", json={"quotas": {"max_endpoints": 1}})
        admin.put("/endpoints/small/home", json={"methods": ["GET"]}).raise_for_status()
        too_big = admin.post(
            "/endpoints/small/home/-/versions",
            files={"module": ("m.wasm", built["js"].read_bytes(), "application/wasm")},
        )
        first = admin.put("/endpoints/few/one", json={"methods": ["GET"]})
        second = admin.put("/endpoints/few/two", json={"methods": ["GET"]})
    assert (too_big.status_code, too_big.json()["error"]) == (413, "too_large")
    assert first.status_code == 200
    assert (second.status_code, second.json()["error"]) == (403, "quota_exceeded")


def test_concurrent_creates_never_pass_max_endpoints(host: HostProcess) -> None:
    with host.admin() as admin:
        admin.put("/namespaces/crowd/-/quotas", json={"quotas": {"max_endpoints": 5}})

        def create(index: int) -> int:
            return admin.put(f"/endpoints/crowd/e{index}", json={"methods": ["GET"]}).status_code

        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            statuses = list(pool.map(create, range(20)))
        listed = admin.get("/endpoints").json()["endpoints"]
    assert sorted(statuses) == [200] * 5 + [403] * 15
    assert len([e for e in listed if e["namespace"] == "crowd"]) == 5


def test_only_admins_change_quotas_and_teams_read_theirs(host: HostProcess) -> None:
    with host.admin(TV_TOKEN) as team:
        refused = team.put("/endpoints/tv/js/-/quotas", json={"quotas": {"fuel": 1}})
        readable = team.get("/endpoints/tv/js/-/quotas")
        foreign = team.get("/namespaces/music/-/quotas")
    with host.admin() as admin:
        bad = admin.put("/quotas", json={"quotas": {"fuel": 0}})
    assert refused.status_code == 403
    assert readable.status_code == 200
    assert readable.json()["effective"]["fuel"] > 0
    assert foreign.status_code == 403
    assert (bad.status_code, bad.json()["error"]) == (400, "bad_quota")


def test_a_quota_change_reaches_another_host_within_a_refresh(
    tmp_path: Path, example_backend: str, built: dict[str, Path]
) -> None:
    registry = f"sqlite:///{tmp_path / 'registry.db'}"
    backends = example_backends(example_backend)
    first = HostProcess(tmp_path / "a", backends=backends, registry_url=registry).start()
    second = HostProcess(tmp_path / "b", backends=backends, registry_url=registry).start()
    try:
        first.cli("deploy", str(built["js"]), "--endpoint", "tv/home")
        second.wait_for_status("/tv/home", 200)
        quota = first.cli("quota", "tv", "--fuel", "200000")
        assert "fuel" in quota.stdout
        second.wait_for_status("/tv/home", 503)
        first.cli("quota", "tv", "--clear", "fuel")
        second.wait_for_status("/tv/home", 200)
    finally:
        first.stop()
        second.stop()
