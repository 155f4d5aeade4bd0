from __future__ import annotations

from host.protect import LoadShedder


def test_a_queue_at_its_cap_sheds() -> None:
    shedder = LoadShedder(workers=2, max_queue=3, latency_budget_ms=1000)
    assert shedder.admit(in_flight=4)
    assert not shedder.admit(in_flight=5)


def test_a_slow_queue_sheds_until_it_drains() -> None:
    shedder = LoadShedder(workers=2, max_queue=100, latency_budget_ms=50, smoothing=1.0)
    shedder.record_queue_wait(400)
    assert not shedder.admit(in_flight=2)
    assert shedder.admit(in_flight=1)
    shedder.record_queue_wait(0)
    assert shedder.admit(in_flight=2)
