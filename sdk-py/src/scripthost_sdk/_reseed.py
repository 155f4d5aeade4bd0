"""`random` seeded from the request id, when a request first draws from it.

The generator's state is frozen into the snapshot at build time: without a
reseed every request would draw the same numbers. Seeding the Mersenne
Twister costs ~95 K fuel, a fifth of a hello request, so only a request that
draws pays it. `install`, at build time before the script is imported, puts
a wrapper in place of each of the module's functions (each a method of the
module's hidden `Random`); the first call in a request seeds it, unless that
call is the script's own `seed` or `setstate`. Instances of `random.Random`
a script makes are its own. Not a secret (nor meant to be).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Any

# The module's functions that set the state themselves: no seed before them.
_SETTING_STATE = frozenset({"seed", "setstate"})

_shared: random.Random = random._inst  # what the functions of `random` are methods of
# The id of the request being served, until it draws (or sets the state).
_due: str | None = None


def install() -> None:
    """Put the wrappers in place of `random`'s functions (again: nothing more to do)."""
    for name in dir(random):
        function = getattr(random, name)
        if getattr(function, "__self__", None) is _shared:
            setattr(random, name, _seeding_first(function, name in _SETTING_STATE))


def seed_before_next_draw(request_id: str) -> None:
    """Seed `random` from `request_id` when the request first calls one of its functions."""
    global _due
    _due = request_id


def _seeding_first(function: Callable[..., Any], sets_state: bool) -> Callable[..., Any]:
    @functools.wraps(function)
    def call(*args: Any, **kwargs: Any) -> Any:
        global _due
        if _due is not None:
            request_id, _due = _due, None
            if not sets_state:
                # An int seed: seeding from the str hashes it with SHA-512, ~5x the fuel.
                _shared.seed(int.from_bytes(request_id.encode(), "big"))
        return function(*args, **kwargs)

    return call
