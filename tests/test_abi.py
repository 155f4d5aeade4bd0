"""The host side of the ABI, where it can be checked without a guest."""

from __future__ import annotations

import time

from host.abi import GuestLogLine, RequestContext
from host.sandbox import Limits

# What a log line costs beyond its text (the request id, endpoint and time
# stored with it): without it a flood of empty lines would be free.
LINE_OVERHEAD_BYTES = 32


def context(log_bytes: int) -> RequestContext:
    return RequestContext(
        request_id="req",
        endpoint="tv/home",
        version="v1",
        limits=Limits(log_bytes=log_bytes),
        deadline=time.monotonic() + 1,
    )


def test_empty_log_lines_still_spend_the_log_budget() -> None:
    request = context(log_bytes=10 * LINE_OVERHEAD_BYTES)
    taken = [request.take_output(GuestLogLine("info", "", {})) for _ in range(11)]
    assert taken == [True] * 10 + [False]
    assert request.output_overflowed
    assert len(request.logs) == 10


def test_a_line_costs_its_text_and_fields() -> None:
    request = context(log_bytes=LINE_OVERHEAD_BYTES + 10)
    assert request.take_output(GuestLogLine("info", "12345", {"ab": "cde"}))
    assert not request.take_output(GuestLogLine("info", "", {}))
