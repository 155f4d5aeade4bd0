from __future__ import annotations

from host.protect import BreakerPolicy, BreakerState, CircuitBreaker

POLICY = BreakerPolicy(
    window_s=10.0, min_failures=3, failure_ratio=0.5, cooldown_s=5.0, max_cooldown_s=15.0
)


def state(breaker: CircuitBreaker) -> BreakerState:
    """Read afresh each time (mypy would otherwise keep an earlier narrowing)."""
    return breaker.state


def storm(breaker: CircuitBreaker, at: float, failures: int) -> list[bool]:
    return [breaker.record(at, resource_failure=True) for _ in range(failures)]


def test_a_storm_of_resource_failures_opens_it() -> None:
    breaker = CircuitBreaker(POLICY)
    assert storm(breaker, 1.0, 3) == [False, False, True]
    assert state(breaker) is BreakerState.OPEN
    assert breaker.admit(2.0) == 4.0
    assert breaker.trips == 1


def test_failures_diluted_by_successes_do_not_open_it() -> None:
    breaker = CircuitBreaker(POLICY)
    for _ in range(10):
        breaker.record(1.0, resource_failure=False)
    storm(breaker, 1.0, 4)
    assert state(breaker) is BreakerState.CLOSED


def test_failures_older_than_the_window_are_forgotten() -> None:
    breaker = CircuitBreaker(POLICY)
    storm(breaker, 0.0, 2)
    storm(breaker, 20.0, 2)
    assert state(breaker) is BreakerState.CLOSED


def test_after_the_cooldown_one_probe_runs_and_its_success_closes_it() -> None:
    breaker = CircuitBreaker(POLICY)
    storm(breaker, 0.0, 3)
    assert breaker.admit(5.0) is None
    assert state(breaker) is BreakerState.HALF_OPEN
    assert breaker.admit(5.0) is not None
    breaker.record(5.1, resource_failure=False)
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.admit(5.2) is None


def test_each_failed_probe_doubles_the_cooldown_up_to_its_cap() -> None:
    breaker = CircuitBreaker(POLICY)
    storm(breaker, 0.0, 3)
    opened_for = []
    now = 0.0
    for _ in range(4):
        wait = breaker.admit(now)
        assert wait is not None
        opened_for.append(wait)
        now += wait
        assert breaker.admit(now) is None
        assert breaker.record(now, resource_failure=True) is True
    assert opened_for == [5.0, 10.0, 15.0, 15.0]
    assert state(breaker) is BreakerState.OPEN
    assert breaker.trips == 5


def test_a_cancelled_probe_lets_another_request_probe() -> None:
    breaker = CircuitBreaker(POLICY)
    storm(breaker, 0.0, 3)
    assert breaker.admit(5.0) is None
    breaker.cancel_probe()
    assert breaker.admit(5.0) is None


# The README's defaults: "Five fuel, memory or timeout failures in ten seconds
# (at least half of the endpoint's requests) open the endpoint's breaker ...
# for 5 s, then one probe request; each failed probe doubles the pause, up to
# a minute."


def test_by_default_the_fifth_failure_in_ten_seconds_opens_it() -> None:
    breaker = CircuitBreaker()
    assert [breaker.record(at, resource_failure=True) for at in (0.0, 2.0, 4.0, 6.0, 9.9)] == [
        False,
        False,
        False,
        False,
        True,
    ]


def test_by_default_five_failures_spread_over_more_than_ten_seconds_do_not() -> None:
    breaker = CircuitBreaker()
    assert not any(breaker.record(at, resource_failure=True) for at in (0.0, 3.0, 6.0, 9.0, 10.5))
    assert state(breaker) is BreakerState.CLOSED


def test_by_default_failures_must_be_at_least_half_of_the_requests() -> None:
    diluted = CircuitBreaker()
    for _ in range(6):
        diluted.record(1.0, resource_failure=False)
    assert not any(storm(diluted, 2.0, 5))
    half = CircuitBreaker()
    for _ in range(5):
        half.record(1.0, resource_failure=False)
    assert storm(half, 2.0, 5)[-1] is True


def test_by_default_the_pause_is_five_seconds_doubling_to_a_minute() -> None:
    breaker = CircuitBreaker()
    storm(breaker, 0.0, 5)
    pauses = []
    now = 0.0
    for _ in range(6):
        pause = breaker.admit(now)
        assert pause is not None
        pauses.append(pause)
        now += pause
        assert breaker.admit(now - 0.001) is not None
        assert breaker.admit(now) is None
        breaker.record(now, resource_failure=True)
    assert pauses == [5.0, 10.0, 20.0, 40.0, 60.0, 60.0]


def test_a_successful_probe_brings_the_pause_back_to_five_seconds() -> None:
    breaker = CircuitBreaker()
    storm(breaker, 0.0, 5)
    assert breaker.admit(5.0) is None
    breaker.record(5.0, resource_failure=True)
    assert breaker.admit(15.0) is None
    breaker.record(15.0, resource_failure=False)
    storm(breaker, 16.0, 5)
    assert breaker.admit(16.0) == 5.0


def test_failures_are_forgotten_a_tenth_of_the_window_at_a_time() -> None:
    breaker = CircuitBreaker(POLICY)
    storm(breaker, 0.5, 2)
    assert breaker.record(9.99, resource_failure=True) is True
    later = CircuitBreaker(POLICY)
    storm(later, 0.5, 2)
    assert later.record(10.0, resource_failure=True) is False
    assert state(later) is BreakerState.CLOSED


def test_a_long_quiet_spell_forgets_every_outcome() -> None:
    breaker = CircuitBreaker(POLICY)
    for _ in range(100):
        breaker.record(1.0, resource_failure=False)
    storm(breaker, 1000.0, 2)
    assert breaker.record(1000.0, resource_failure=True) is True


def test_an_outcome_reported_after_its_window_is_not_counted() -> None:
    breaker = CircuitBreaker(POLICY)
    storm(breaker, 30.0, 2)
    assert breaker.record(5.0, resource_failure=True) is False
    assert breaker.record(30.0, resource_failure=True) is True


def test_successes_age_out_with_their_buckets_too() -> None:
    breaker = CircuitBreaker(POLICY)
    for _ in range(10):
        breaker.record(0.0, resource_failure=False)
    storm(breaker, 5.0, 2)
    assert breaker.record(10.5, resource_failure=True) is True


# Opened by a sibling process's trip (`follow`), closed by its probe (`recover`).
# A follower stays open one base cooldown past the sibling's deadline: the sibling
# probes first.
MARGIN = POLICY.cooldown_s


def test_a_siblings_trip_opens_a_closed_breaker_past_its_cooldown() -> None:
    breaker = CircuitBreaker(POLICY)
    assert breaker.follow(1.0, 5.0) is True
    assert state(breaker) is BreakerState.OPEN
    assert breaker.admit(2.0) == 5.0 + MARGIN - 1.0
    assert breaker.admit(6.0 + MARGIN) is None
    assert state(breaker) is BreakerState.HALF_OPEN


def test_following_is_not_a_trip_of_its_own() -> None:
    breaker = CircuitBreaker(POLICY)
    breaker.follow(0.0, 5.0)
    assert breaker.trips == 0


def test_an_open_breaker_keeps_the_later_deadline() -> None:
    breaker = CircuitBreaker(POLICY)
    storm(breaker, 0.0, 3)  # open until 5.0
    assert breaker.follow(1.0, 10.0) is True
    assert breaker.admit(1.0) == 10.0 + MARGIN
    assert breaker.follow(2.0, 1.0) is False
    assert breaker.admit(2.0) == 9.0 + MARGIN


def test_a_siblings_cooldown_is_capped_at_the_policys_longest() -> None:
    breaker = CircuitBreaker(POLICY)
    assert breaker.follow(0.0, 10_000.0) is True
    assert breaker.admit(0.0) == POLICY.max_cooldown_s + MARGIN
    assert breaker.follow(0.0, float("inf")) is False
    assert breaker.admit(0.0) == POLICY.max_cooldown_s + MARGIN


def test_a_cooldown_that_is_not_positive_opens_nothing() -> None:
    breaker = CircuitBreaker(POLICY)
    for seconds in (0.0, -5.0, float("nan"), float("-inf")):
        assert breaker.follow(0.0, seconds) is False
    assert state(breaker) is BreakerState.CLOSED


def test_a_siblings_trip_during_a_probe_reopens_and_lets_a_later_probe_run() -> None:
    breaker = CircuitBreaker(POLICY)
    storm(breaker, 0.0, 3)
    assert breaker.admit(5.0) is None  # the probe
    assert breaker.follow(5.1, 10.0) is True
    breaker.record(5.2, resource_failure=False)  # the probe ends while open: not counted
    assert state(breaker) is BreakerState.OPEN
    assert breaker.admit(15.1 + MARGIN) is None
    assert state(breaker) is BreakerState.HALF_OPEN


def test_a_failed_probe_after_a_siblings_trip_doubles_the_pause() -> None:
    breaker = CircuitBreaker(POLICY)
    breaker.follow(0.0, 5.0)
    assert breaker.admit(5.0 + MARGIN) is None
    assert breaker.record(5.0 + MARGIN, resource_failure=True) is True
    assert breaker.admit(5.0 + MARGIN) == 10.0


def test_the_siblings_failed_probe_keeps_a_follower_open_without_a_probe_of_its_own() -> None:
    breaker = CircuitBreaker(POLICY)
    breaker.follow(0.0, 5.0)
    # The sibling probes at 5.0, fails and trips for twice as long: told at once.
    assert breaker.follow(5.0, 10.0) is True
    assert breaker.admit(5.0 + MARGIN) == 10.0
    assert state(breaker) is BreakerState.OPEN


def test_a_siblings_successful_probe_closes_an_open_follower() -> None:
    breaker = CircuitBreaker(POLICY)
    breaker.follow(0.0, 5.0)
    breaker.follow(5.0, 10.0)
    assert breaker.recover() is True
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.admit(6.0) is None
    # Closed as after a probe of its own: the next trip pauses for the base cooldown.
    storm(breaker, 7.0, 3)
    assert breaker.admit(7.0) == POLICY.cooldown_s


def test_a_siblings_successful_probe_closes_a_half_open_breaker_and_frees_its_probe() -> None:
    breaker = CircuitBreaker(POLICY)
    storm(breaker, 0.0, 3)
    assert breaker.admit(5.0) is None  # this breaker's own probe, still running
    assert breaker.recover() is True
    assert state(breaker) is BreakerState.CLOSED
    assert breaker.admit(5.1) is None
    assert breaker.admit(5.1) is None


def test_a_recovery_leaves_a_closed_breaker_as_it_is() -> None:
    breaker = CircuitBreaker(POLICY)
    storm(breaker, 0.0, 2)
    assert breaker.recover() is False
    assert breaker.record(0.0, resource_failure=True) is True
