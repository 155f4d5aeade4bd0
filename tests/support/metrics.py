"""Reading a host's Prometheus metrics from a test."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.support.hosts import HostProcess


class Scrape:
    """One read of /metrics; `minus` another gives what happened in between."""

    def __init__(self, host: HostProcess) -> None:
        text = host.metrics_text()
        self.samples = [
            sample for family in text_string_to_metric_families(text) for sample in family.samples
        ]

    def value(self, name: str, **labels: str) -> float:
        return sum(
            sample.value
            for sample in self.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        )

    def minus(self, earlier: Scrape, name: str, **labels: str) -> float:
        return self.value(name, **labels) - earlier.value(name, **labels)
