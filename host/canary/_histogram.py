"""A histogram of logarithmic buckets: small, mergeable across hosts, quantiles within 9 %.

A value v > 0 falls in bucket floor(log2(v) * 8); a quantile is the upper
edge of the bucket it falls in, so it overstates by at most 2^(1/8) - 1
(9 %). Every host counts into the same buckets, so the fleet's histogram is
the sum of the hosts', and so is its p99: what sampled percentiles per host
could not give.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

_PER_DOUBLING = 8
# Zero and below (no fuel used, an instant answer) share one bucket.
_ZERO = -(1 << 30)


@dataclass
class LogHistogram:
    counts: Counter[int] = field(default_factory=Counter)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, value: float) -> None:
        self.counts[_bucket(value)] += 1

    def merge(self, other: LogHistogram) -> None:
        self.counts.update(other.counts)

    def quantile(self, q: float) -> float | None:
        """The value `q` (0-1) of the samples are at or below, within 9 %; None if empty."""
        total = self.total
        if not total:
            return None
        wanted = max(1, math.ceil(q * total))
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= wanted:
                return _upper_edge(index)
        raise AssertionError("unreachable: the counts add up to the total")

    def to_json(self) -> dict[str, int]:
        return {str(index): count for index, count in sorted(self.counts.items())}

    @classmethod
    def from_json(cls, document: Mapping[str, object]) -> LogHistogram:
        """A histogram from a report; anything that is not a count is ignored."""
        counts: Counter[int] = Counter()
        for key, count in document.items():
            if isinstance(count, int) and not isinstance(count, bool) and count > 0:
                try:
                    counts[int(key)] += count
                except ValueError:
                    continue
        return cls(counts)


def _bucket(value: float) -> int:
    if value <= 0:
        return _ZERO
    return math.floor(math.log2(value) * _PER_DOUBLING)


def _upper_edge(index: int) -> float:
    if index == _ZERO:
        return 0.0
    return float(2 ** ((index + 1) / _PER_DOUBLING))
