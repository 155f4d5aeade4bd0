from __future__ import annotations

from host.protect import LoadShedder


def test_a_queue_at_its_cap_sheds_everyone() -> None:
    shedder = LoadShedder(max_queue=3, latency_budget_ms=1000)
    assert shedder.admit(2, 0.0, timeout_ms=2000)
    assert not shedder.admit(3, 0.0, timeout_ms=2000)


def test_an_endpoint_whose_own_queue_does_not_drain_is_shed() -> None:
    shedder = LoadShedder(max_queue=100, latency_budget_ms=50)
    assert not shedder.admit(1, 400.0, timeout_ms=2000)
    assert shedder.admit(1, 10.0, timeout_ms=2000)


def test_by_default_the_budget_is_half_the_endpoint_timeout() -> None:
    shedder = LoadShedder(max_queue=100)
    assert shedder.admit(1, 900.0, timeout_ms=2000)
    assert not shedder.admit(1, 1100.0, timeout_ms=2000)
