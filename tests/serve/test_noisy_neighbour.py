"""The noisy-neighbour benchmark, short: only the well-behaved endpoint's success rate is asserted.

Its latencies are reported by `python -m bench.noisy_neighbour`, never asserted.
"""

from __future__ import annotations

from pathlib import Path

from bench.noisy_neighbour import run


def test_a_well_behaved_endpoint_keeps_serving_beside_noisy_ones(tmp_path: Path) -> None:
    figures = run(seconds=4, good_callers=4, noisy_callers=8, data_dir=tmp_path / "host")
    good = figures["good_with_noise"]
    assert good["requests"] > 50
    assert good["success_rate"] >= 0.999, good
    noisy_outcomes = {o for result in figures["noisy"].values() for o in result["outcomes"]}
    assert "503 circuit_open" in noisy_outcomes
    # The hand-written ones end at their limits: the deadline, the memory quota.
    assert "504 timeout" in figures["noisy"]["sleeper"]["outcomes"]
    assert "503 memory_exceeded" in figures["noisy"]["tables"]["outcomes"]
