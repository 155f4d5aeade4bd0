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
# Each misbehaving endpoint fails its own way, and is contained. Out of fuel
# or memory, a script fails within milliseconds, so five failures open its
# breaker at once; one that runs to its 500 ms limit may be shed (its queue
# stops draining) before five of its runs have ended on a loaded machine.
# The sleeper blocks in a host call on a 30 s WASI timer and ends at its
# deadline; the table bomb ends at the memory quota.
OWN_FAILURE = {
    "loop": "503 fuel_exhausted",
    "alloc": "503 memory_exceeded",
    "slow": "504 timeout",
    "sleeper": "504 timeout",
    "tables": "503 memory_exceeded",
}
CONTAINED = {
    "loop": {"503 circuit_open"},
    "alloc": {"503 circuit_open"},
    "slow": {"503 circuit_open", "503 overloaded"},
    "sleeper": {"503 circuit_open", "503 overloaded"},
    "tables": {"503 circuit_open"},
}


def seen(outcomes: dict[str, int]) -> set[str]:
    return {outcome for outcome, count in outcomes.items() if count}


def test_a_well_behaved_endpoint_keeps_serving_beside_noisy_ones(tmp_path: Path) -> None:
    figures = run(seconds=4, good_callers=4, noisy_callers=8, data_dir=tmp_path / "host")
    assert figures["good_outcomes"].get("200 ok", 0) > 0
    assert seen(figures["good_outcomes"]) <= ALLOWED_FOR_THE_GOOD_ENDPOINT, figures
    for name, noisy in figures["noisy"].items():
        outcomes = seen(noisy["outcomes"])
        assert outcomes <= {OWN_FAILURE[name], "503 circuit_open", "503 overloaded"}, noisy
        assert outcomes & CONTAINED[name], (name, noisy)
