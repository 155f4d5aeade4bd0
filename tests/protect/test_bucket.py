from __future__ import annotations

import pytest

from host.protect import TokenBucket


def test_a_burst_is_admitted_then_the_rate_holds() -> None:
    bucket = TokenBucket(rate=10, burst=3)
    assert [bucket.try_take(0.0) for _ in range(3)] == [None, None, None]
    assert bucket.try_take(0.0) == pytest.approx(0.1)
    assert bucket.try_take(0.1) is None
    assert bucket.try_take(0.1) == pytest.approx(0.1)


def test_tokens_never_pile_up_beyond_the_burst() -> None:
    bucket = TokenBucket(rate=1, burst=2)
    bucket.try_take(0.0)
    taken = [bucket.try_take(1000.0) for _ in range(3)]
    assert taken[:2] == [None, None]
    assert taken[2] is not None
