from __future__ import annotations

from host.failures import FailureClass
from host.protect import BreakerPolicy, Guards, Load, LoadShedder
from host.quotas import EndpointQuotas

KEY = ("tv", "/home")
OTHER = ("tv", "/other")
IDLE = Load(queued=0, own_oldest_wait_ms=0.0)


def guards(max_queue: int = 100) -> tuple[Guards, list[tuple[str, str]]]:
    trips: list[tuple[str, str]] = []
    shedder = LoadShedder(max_queue=max_queue)
    policy = BreakerPolicy(min_failures=2, cooldown_s=5)
    return Guards(shedder, policy, on_trip=trips.append), trips


def test_the_concurrency_quota_counts_running_requests() -> None:
    guard, _ = guards()
    quotas = EndpointQuotas(max_concurrency=2)
    assert guard.admit(KEY, quotas, IDLE, 0.0) is None
    assert guard.admit(KEY, quotas, IDLE, 0.0) is None
    refused = guard.admit(KEY, quotas, IDLE, 0.0)
    assert refused is not None
    assert (refused.status, refused.error) == (429, "concurrency_exceeded")
    assert guard.admit(OTHER, quotas, IDLE, 0.0) is None
    guard.release(KEY, None, 0.1)
    assert guard.admit(KEY, quotas, IDLE, 0.1) is None


def test_the_rate_quota_refuses_with_a_retry_after() -> None:
    guard, _ = guards()
    quotas = EndpointQuotas(rps=2)
    outcomes = [guard.admit(KEY, quotas, IDLE, 0.0) for _ in range(3)]
    refused = outcomes[2]
    assert outcomes[:2] == [None, None]
    assert refused is not None
    assert (refused.status, refused.error, refused.retry_after_header) == (429, "rate_limited", "1")


def test_resource_failures_trip_the_breaker_and_it_is_reported() -> None:
    guard, trips = guards()
    quotas = EndpointQuotas()
    for _ in range(2):
        assert guard.admit(KEY, quotas, IDLE, 0.0) is None
        guard.release(KEY, FailureClass.FUEL_EXHAUSTED, 0.0)
    refused = guard.admit(KEY, quotas, IDLE, 1.0)
    assert refused is not None
    assert (refused.status, refused.error) == (503, "circuit_open")
    assert trips == [KEY]
    assert guard.open_breakers() == [KEY]


def test_guest_errors_do_not_trip_the_breaker() -> None:
    guard, trips = guards()
    for _ in range(10):
        guard.admit(KEY, EndpointQuotas(), IDLE, 0.0)
        guard.release(KEY, FailureClass.GUEST_ERROR, 0.0)
    assert trips == []


def test_a_full_queue_sheds_with_503() -> None:
    guard, _ = guards(max_queue=2)
    refused = guard.admit(KEY, EndpointQuotas(), Load(queued=2, own_oldest_wait_ms=0.0), 0.0)
    assert refused is not None
    assert (refused.status, refused.error) == (503, "overloaded")


def test_a_siblings_trip_opens_the_breaker_without_reporting_a_trip() -> None:
    """A trip reported here would be told to the siblings again: an echo."""
    guard, trips = guards()
    assert guard.follow_trip(KEY, 5.0, 0.0) is True
    refused = guard.admit(KEY, EndpointQuotas(), IDLE, 1.0)
    assert refused is not None
    # The sibling probes at 5.0; this one waits a base cooldown longer.
    assert (refused.status, refused.error, refused.retry_after_s) == (503, "circuit_open", 9.0)
    assert guard.open_for(KEY, 1.0) == 9.0
    assert guard.open_breakers() == [KEY]
    assert trips == []
    assert guard.admit(OTHER, EndpointQuotas(), IDLE, 1.0) is None


def test_a_probe_that_closes_the_breaker_is_reported_and_a_siblings_recovery_is_not() -> None:
    recoveries: list[tuple[str, str]] = []
    policy = BreakerPolicy(min_failures=2, cooldown_s=5)
    guard = Guards(LoadShedder(max_queue=100), policy, on_recover=recoveries.append)
    for _ in range(2):
        assert guard.admit(KEY, EndpointQuotas(), IDLE, 0.0) is None
        guard.release(KEY, FailureClass.FUEL_EXHAUSTED, 0.0)
    assert guard.admit(KEY, EndpointQuotas(), IDLE, 5.0) is None  # the probe
    guard.release(KEY, None, 5.1)
    assert recoveries == [KEY]
    assert guard.follow_trip(OTHER, 5.0, 6.0) is True
    assert guard.follow_recovery(OTHER) is True
    assert guard.admit(OTHER, EndpointQuotas(), IDLE, 6.0) is None
    assert recoveries == [KEY]
    assert guard.follow_recovery(OTHER) is False
