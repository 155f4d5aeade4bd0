"""Waiting for what another process will get round to: probe until it holds, or fail saying why."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

Seen = TypeVar("Seen")


def wait_until(
    probe: Callable[[], Seen],
    done: Callable[[Seen], bool],
    *,
    limit: float,
    interval: float,
    failure: Callable[[Seen], str],
) -> Seen:
    """Probe every `interval` seconds until `done` holds for what the probe saw; that.

    After `limit` seconds the test fails with `failure` of what the last probe saw.
    """
    started = time.monotonic()
    while not done(seen := probe()):
        assert time.monotonic() - started < limit, failure(seen)
        time.sleep(interval)
    return seen
