"""Prometheus metrics, on a registry of the app's own (so several apps never clash).

In a multi-process host (`serve --processes N`) every process writes its
series to prometheus_client's multiprocess files, and a scrape, whichever
process serves it, reads them all: counters and histograms sum over every
process that ever ran, gauges over the live ones. What the host's parts
count themselves (the module cache, the sandbox gate) is copied into those
series by `publish`: on every scrape by the process serving it, and every
refresh interval by each process, so a sibling's scrape sees it too.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
_FUEL_BUCKETS = (1e5, 3e5, 1e6, 3e6, 1e7, 3e7, 1e8, 3e8, 1e9, 3e9)
_MEMORY_BUCKETS = tuple(float(1 << n) for n in range(20, 31))  # 1 MiB .. 1 GiB
_COMPILE_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 20, 40, 80)

CacheCounts = Callable[[], dict[str, int]]
# service -> event -> count, and service -> bytes held
ServiceCounts = Callable[[], Mapping[str, Mapping[str, int]]]
ServiceBytes = Callable[[], Mapping[str, int]]
NamespaceFilter = Callable[[str], bool]
# Set (by the parent of a multi-process host) before prometheus_client is imported.
MULTIPROCESS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        endpoint = ["namespace", "endpoint"]
        self.requests = Counter(
            "scripthost_requests",
            "Device requests by endpoint, version, HTTP status and outcome",
            [*endpoint, "version", "status", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "scripthost_request_duration_seconds",
            "Time from admission to response",
            endpoint,
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.fuel = Histogram(
            "scripthost_request_fuel",
            "Fuel one request used",
            endpoint,
            buckets=_FUEL_BUCKETS,
            registry=self.registry,
        )
        self.memory = Histogram(
            "scripthost_request_memory_bytes",
            "Peak linear memory of one request (where the engine can tell)",
            endpoint,
            buckets=_MEMORY_BUCKETS,
            registry=self.registry,
        )
        self.backend_calls = Counter(
            "scripthost_backend_calls",
            "Backend calls scripts made, by service and outcome",
            ["service", "outcome"],
            registry=self.registry,
        )
        self.backend_latency = Histogram(
            "scripthost_backend_call_duration_seconds",
            "Backend call latency by service",
            ["service"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.compile_seconds = Histogram(
            "scripthost_compile_seconds",
            "Time to compile a module (each one is a compile this host paid for)",
            buckets=_COMPILE_BUCKETS,
            registry=self.registry,
        )
        self.shed = Counter(
            "scripthost_shed_requests",
            "Requests refused at once because the host was overloaded",
            endpoint,
            registry=self.registry,
        )
        self.breaker_trips = Counter(
            "scripthost_breaker_trips",
            "Times an endpoint's circuit breaker opened",
            endpoint,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "scripthost_sandbox_queue_depth",
            "Requests waiting for a sandbox worker",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.running = Gauge(
            "scripthost_sandbox_running",
            "Scripts running now",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.paused = Gauge(
            "scripthost_sandbox_paused",
            "Scripts waiting on a backend now (holding no CPU slot)",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.open_breakers = Gauge(
            "scripthost_breakers_open",
            "Endpoints whose circuit breaker is open or half-open",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.held_refusals = Gauge(
            "scripthost_refusals_held",
            "Refusals held before they are sent (an endpoint that will not run for a while)",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self._readers: list[Callable[[], None]] = []

    def watch_gauge(self, gauge: Gauge, read: Callable[[], float]) -> None:
        self._readers.append(lambda: gauge.set(read()))

    def watch_cache(self, counts: CacheCounts) -> None:
        events = _CounterCopy(
            Counter(
                "scripthost_module_cache_events",
                "Module cache hits, misses, artifact loads and compiles",
                ["event"],
                registry=self.registry,
            )
        )
        self._readers.append(lambda: events.update({(e,): n for e, n in counts().items()}))

    def watch_response_cache(self, events: ServiceCounts, held: ServiceBytes) -> None:
        event_counts = _CounterCopy(
            Counter(
                "scripthost_backend_cache_events",
                "Shared response cache by service: hit, miss, stale (served past freshness), "
                "store, not_stored, too_large, evict",
                ["service", "event"],
                registry=self.registry,
            )
        )
        held_bytes = _GaugeCopy(
            Gauge(
                "scripthost_backend_cache_bytes",
                "Bytes of answers the shared response cache holds, by service",
                ["service"],
                registry=self.registry,
                multiprocess_mode="livesum",
            )
        )

        def read() -> None:
            event_counts.update(
                {
                    (service, event): count
                    for service, counts in events().items()
                    for event, count in counts.items()
                }
            )
            held_bytes.update({(service,): size for service, size in held().items()})

        self._readers.append(read)

    def publish(self) -> None:
        """Copy what the host's parts count themselves into their series."""
        for read in self._readers:
            read()

    def exposition(self, visible: NamespaceFilter | None = None) -> bytes:
        """The Prometheus text format, or with `visible` only the series it accepts.

        `visible` judges a series by its `namespace` label; host-wide series
        have none, so they are left out too.
        """
        self.publish()
        source = self.registry
        if multiprocess_dir := os.environ.get(MULTIPROCESS_DIR_ENV):
            source = CollectorRegistry(auto_describe=False)
            MultiProcessCollector(source, multiprocess_dir)  # type: ignore[no-untyped-call]
        if visible is None:
            return generate_latest(source)
        scoped = CollectorRegistry(auto_describe=False)
        scoped.register(_NamespaceScoped(source, visible))
        return generate_latest(scoped)


class _NamespaceScoped(Collector):
    """Another registry's series, less those of namespaces the reader may not see."""

    def __init__(self, source: CollectorRegistry, visible: NamespaceFilter) -> None:
        self._source = source
        self._visible = visible

    def collect(self) -> Iterator[Metric]:
        for family in self._source.collect():
            samples = [
                sample
                for sample in family.samples
                if "namespace" in sample.labels and self._visible(sample.labels["namespace"])
            ]
            if samples:
                scoped = Metric(family.name, family.documentation, family.type, family.unit)
                scoped.samples = samples
                yield scoped


class _CounterCopy:
    """A count kept elsewhere (a plain int a part bumps), copied into a counter by its
    increase since the last copy: each process adds its own, so processes sum."""

    def __init__(self, counter: Counter) -> None:
        self._counter = counter
        self._copied: dict[tuple[str, ...], int] = {}

    def update(self, counts: Mapping[tuple[str, ...], int]) -> None:
        for labels, count in counts.items():
            increase = count - self._copied.get(labels, 0)
            series = self._counter.labels(*labels)
            if increase > 0:
                series.inc(increase)
            self._copied[labels] = count


class _GaugeCopy:
    """Values kept elsewhere, set on a gauge; a label set no longer reported reads 0."""

    def __init__(self, gauge: Gauge) -> None:
        self._gauge = gauge
        self._seen: set[tuple[str, ...]] = set()

    def update(self, values: Mapping[tuple[str, ...], float]) -> None:
        for labels in self._seen - values.keys():
            self._gauge.labels(*labels).set(0)
        for labels, value in values.items():
            self._gauge.labels(*labels).set(value)
        self._seen |= values.keys()
