from __future__ import annotations

import random

from host.canary import LogHistogram


def exact_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(q * len(ordered) + 0.999999) - 1)]


def test_a_quantile_is_within_nine_percent_above_the_truth() -> None:
    rng = random.Random(7)
    values = [rng.lognormvariate(3, 1) for _ in range(5_000)]
    histogram = LogHistogram()
    for value in values:
        histogram.add(value)

    for q in (0.5, 0.9, 0.99):
        truth = exact_quantile(values, q)
        estimate = histogram.quantile(q)
        assert estimate is not None
        assert truth <= estimate <= truth * 1.091


def test_hosts_histograms_add_up_to_the_fleets() -> None:
    rng = random.Random(3)
    first, second, whole = LogHistogram(), LogHistogram(), LogHistogram()
    for n in range(2_000):
        value = rng.uniform(0.1, 500)
        (first if n % 3 else second).add(value)
        whole.add(value)

    first.merge(LogHistogram.from_json(second.to_json()))

    assert first.counts == whole.counts
    assert first.quantile(0.99) == whole.quantile(0.99)


def test_zero_and_empty() -> None:
    histogram = LogHistogram()
    assert histogram.quantile(0.99) is None
    histogram.add(0)
    assert histogram.quantile(0.5) == 0.0


def test_a_malformed_report_counts_nothing() -> None:
    parsed = LogHistogram.from_json({"3": 2, "x": 5, "4": -1, "5": "7", "6": True})
    assert dict(parsed.counts) == {3: 2}
