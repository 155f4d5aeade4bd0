"""A host of several processes: its stats are computed over every process's samples."""

from __future__ import annotations

import json
import time

from host.observe import Observer, Served
from host.observe._window import EndpointWindow, Sample, merge_windows
from host.protect import Refusal

KEY = ("tv", "/home")


def window(latencies_ms: list[float], outcome: str = "ok") -> EndpointWindow:
    now = time.time()
    return EndpointWindow.of(
        Sample(now, latency, 200, outcome, 1_000, None) for latency in latencies_ms
    )


def test_percentiles_are_computed_over_the_union_not_averaged() -> None:
    fast = window([1.0] * 90)
    slow = window([100.0] * 10, outcome="timeout")
    (merged,) = merge_windows([{KEY: fast}, {KEY: slow}]).values()
    summary = merged.summary(time.time())
    assert summary["requests"] == 100
    assert (summary["p50_ms"], summary["p99_ms"]) == (1.0, 100.0)
    assert summary["outcomes"] == {"ok": 90, "timeout": 10}
    assert summary["error_rate"] == 0.1


def test_an_endpoint_only_a_sibling_served_is_in_the_summaries() -> None:
    here, sibling = Observer(), Observer()
    refused = Refusal(429, "rate_limited", "slow down", 1.0)
    for n in range(3):
        sibling.refusal(Served("tv", "/home", "v1"), f"r{n}", refused)
    here.refusal(Served("music", "/home", "v1"), "m0", refused)
    snapshot = json.loads(json.dumps(sibling.snapshot()))
    summaries = here.summaries(lambda namespace: True, [snapshot])
    counts = {(s["namespace"], s["path"]): s["requests"] for s in summaries}
    assert counts == {("music", "/home"): 1, ("tv", "/home"): 3}
    assert [s["namespace"] for s in here.summaries(lambda ns: ns == "tv", [snapshot])] == ["tv"]


def test_recent_failures_of_every_process_come_newest_first() -> None:
    here = Observer()
    here.failures.extend([{"at": 3.0, "request_id": "here-3"}, {"at": 1.0, "request_id": "here-1"}])
    sibling = {"windows": [], "failures": [{"at": 2.0, "request_id": "sibling-2"}]}
    merged = [f["request_id"] for f in here.recent_failures([sibling])]
    assert merged == ["here-3", "sibling-2", "here-1"]
