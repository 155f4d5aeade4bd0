import random
from collections.abc import Iterator

import pytest
from scripthost_sdk import _reseed


@pytest.fixture
def wrapped() -> Iterator[None]:
    """`random` as `install` leaves it, restored afterwards (it is this process's too)."""
    functions = dict(vars(random))
    state = random.getstate()
    _reseed.install()
    yield
    _reseed._due = None
    vars(random).update(functions)
    random.setstate(state)


def seeded_from(request_id: str) -> random.Random:
    return random.Random(int.from_bytes(request_id.encode(), "big"))


@pytest.mark.usefixtures("wrapped")
def test_a_request_draws_from_its_own_seed() -> None:
    for request_id in ("req-1", "req-2", "req-1"):
        _reseed.seed_before_next_draw(request_id)
        expected = seeded_from(request_id)
        assert random.random() == expected.random()
        assert random.randint(1, 10**9) == expected.randint(1, 10**9), "seeded once, not per call"
        assert random.choice("abcdefgh") == expected.choice("abcdefgh")


@pytest.mark.usefixtures("wrapped")
def test_the_scripts_own_seed_or_state_wins() -> None:
    _reseed.seed_before_next_draw("req-1")
    random.seed(7)
    assert random.random() == random.Random(7).random()
    state = random.Random(9).getstate()
    _reseed.seed_before_next_draw("req-2")
    random.setstate(state)
    assert random.random() == random.Random(9).random()


@pytest.mark.usefixtures("wrapped")
def test_every_function_of_the_module_is_wrapped_once() -> None:
    _reseed.install()  # again: nothing more to do
    shared = _reseed._shared
    left = [name for name in dir(random) if getattr(getattr(random, name), "__self__", 0) is shared]
    assert left == []
    wrapped_once = random.random.__wrapped__  # type: ignore[attr-defined]
    assert wrapped_once.__self__ is shared
    assert random.randint.__name__ == "randint"
    assert random.Random is _reseed.random.Random, "the class is left alone"
