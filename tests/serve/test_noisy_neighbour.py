"""The noisy-neighbour benchmark, short: what happens, never how fast.

Its latencies and success rates are reported by `python -m bench.noisy_neighbour`,
never asserted here.
"""

from __future__ import annotations

from pathlib import Path

from bench.noisy_neighbour import run

# What the host may answer the well-behaved endpoint under load: its script's
# own answer, or "overloaded" if the whole host is (shedding is by design).
# Never a failure its neighbours caused, and never its breaker opening.
ALLOWED_FOR_THE_GOOD_ENDPOINT = {"200 ok", "503 overloaded"}


def test_a_well_behaved_endpoint_keeps_serving_beside_noisy_ones(tmp_path: Path) -> None:
    figures = run(seconds=4, good_callers=4, noisy_callers=8, data_dir=tmp_path / "host")
    good = {outcome for outcome, count in figures["good_outcomes"].items() if count}
    assert figures["good_outcomes"].get("200 ok", 0) > 0
    assert good <= ALLOWED_FOR_THE_GOOD_ENDPOINT, figures["good_outcomes"]
    # Each misbehaving endpoint (out of fuel, out of memory, out of time) was paused.
    for name, noisy in figures["noisy"].items():
        assert noisy["outcomes"].get("503 circuit_open", 0) > 0, (name, noisy)
