from __future__ import annotations

from host.failures import FailureClass
from host.protect import BreakerPolicy, Guards, LoadShedder
from host.quotas import EndpointQuotas

KEY = ("tv", "/home")
OTHER = ("tv", "/other")


def guards(**shedding: int) -> tuple[Guards, list[tuple[str, str]]]:
    trips: list[tuple[str, str]] = []
    shedder = LoadShedder(
        workers=shedding.get("workers", 4),
        max_queue=shedding.get("max_queue", 100),
        latency_budget_ms=1000,
    )
    policy = BreakerPolicy(min_failures=2, cooldown_s=5)
    return Guards(shedder, policy, on_trip=trips.append), trips


def test_the_concurrency_quota_counts_running_requests() -> None:
    guard, _ = guards()
    quotas = EndpointQuotas(max_concurrency=2)
    assert guard.admit(KEY, quotas, 0, 0.0) is None
    assert guard.admit(KEY, quotas, 1, 0.0) is None
    refused = guard.admit(KEY, quotas, 2, 0.0)
    assert refused is not None
    assert (refused.status, refused.error) == (429, "concurrency_exceeded")
    assert guard.admit(OTHER, quotas, 2, 0.0) is None
    guard.release(KEY, None, 0.0, 0.1)
    assert guard.admit(KEY, quotas, 2, 0.1) is None


def test_the_rate_quota_refuses_with_a_retry_after() -> None:
    guard, _ = guards()
    quotas = EndpointQuotas(rps=2)
    outcomes = [guard.admit(KEY, quotas, 0, 0.0) for _ in range(3)]
    refused = outcomes[2]
    assert outcomes[:2] == [None, None]
    assert refused is not None
    assert (refused.status, refused.error, refused.retry_after_header) == (429, "rate_limited", "1")


def test_resource_failures_trip_the_breaker_and_it_is_reported() -> None:
    guard, trips = guards()
    quotas = EndpointQuotas()
    for _ in range(2):
        assert guard.admit(KEY, quotas, 0, 0.0) is None
        guard.release(KEY, FailureClass.FUEL_EXHAUSTED, 0.0, 0.0)
    refused = guard.admit(KEY, quotas, 0, 1.0)
    assert refused is not None
    assert (refused.status, refused.error) == (503, "circuit_open")
    assert trips == [KEY]
    assert guard.open_breakers() == [KEY]


def test_guest_errors_do_not_trip_the_breaker() -> None:
    guard, trips = guards()
    for _ in range(10):
        guard.admit(KEY, EndpointQuotas(), 0, 0.0)
        guard.release(KEY, FailureClass.GUEST_ERROR, 0.0, 0.0)
    assert trips == []


def test_an_overloaded_host_sheds_the_endpoint_over_its_share() -> None:
    guard, _ = guards(workers=2, max_queue=1)
    quotas = EndpointQuotas()
    assert guard.admit(KEY, quotas, 0, 0.0) is None
    assert guard.admit(KEY, quotas, 1, 0.0) is None
    assert guard.admit(KEY, quotas, 2, 0.0) is None
    refused = guard.admit(KEY, quotas, 3, 0.0)
    assert refused is not None
    assert (refused.status, refused.error) == (503, "overloaded")
    # A neighbour with nothing running still gets its share of the workers.
    assert guard.admit(OTHER, quotas, 3, 0.0) is None
