from __future__ import annotations

from host.protect import DISABLED, RefusalPacer, circuit_open


def test_a_refusal_is_held_until_its_retry_after_but_never_past_the_bound() -> None:
    pacer = RefusalPacer(max_hold_s=1.0, max_held=10)
    assert pacer.hold(0.25) == 0.25
    assert pacer.hold(30.0) == 1.0
    assert pacer.held == 2


def test_a_refusal_due_now_is_sent_at_once_and_holds_no_place() -> None:
    pacer = RefusalPacer(max_hold_s=1.0, max_held=10)
    assert pacer.hold(0.0) == 0.0
    assert pacer.held == 0


def test_beyond_max_held_refusals_are_sent_at_once_and_counted() -> None:
    pacer = RefusalPacer(max_hold_s=1.0, max_held=2)
    assert [pacer.hold(5.0) for _ in range(4)] == [1.0, 1.0, 0.0, 0.0]
    assert (pacer.held, pacer.unpaced) == (2, 2)
    pacer.release()
    assert pacer.hold(5.0) == 1.0
    assert (pacer.held, pacer.unpaced) == (2, 2)


def test_a_zero_bound_turns_pacing_off() -> None:
    pacer = RefusalPacer(max_hold_s=0.0, max_held=10)
    assert pacer.hold(5.0) == 0.0
    assert (pacer.held, pacer.unpaced) == (0, 0)


def test_only_refusals_of_an_endpoint_that_will_not_run_for_a_while_are_paced() -> None:
    assert circuit_open(5.0).paced
    assert DISABLED.paced
