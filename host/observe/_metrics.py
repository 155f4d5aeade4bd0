"""Prometheus metrics, on a registry of the app's own (so several apps never clash)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
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
        )
        self.running = Gauge(
            "scripthost_sandbox_running",
            "Scripts running now",
            registry=self.registry,
        )
        self.paused = Gauge(
            "scripthost_sandbox_paused",
            "Scripts waiting on a backend now (holding no CPU slot)",
            registry=self.registry,
        )
        self.open_breakers = Gauge(
            "scripthost_breakers_open",
            "Endpoints whose circuit breaker is open or half-open",
            registry=self.registry,
        )

    def watch_cache(self, counts: CacheCounts) -> None:
        self.registry.register(_CacheCollector(counts))

    def watch_response_cache(self, events: ServiceCounts, held: ServiceBytes) -> None:
        self.registry.register(_ResponseCacheCollector(events, held))

    def exposition(self, visible: NamespaceFilter | None = None) -> bytes:
        """The Prometheus text format, or with `visible` only the series it accepts.

        `visible` judges a series by its `namespace` label; host-wide series
        have none, so they are left out too.
        """
        if visible is None:
            return generate_latest(self.registry)
        scoped = CollectorRegistry(auto_describe=False)
        scoped.register(_NamespaceScoped(self.registry, visible))
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


class _CacheCollector(Collector):
    """The module cache's own counters, read at scrape time."""

    def __init__(self, counts: CacheCounts) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "scripthost_module_cache_events",
            "Module cache hits, misses, artifact loads and compiles",
            labels=["event"],
        )
        for event, count in self._counts().items():
            family.add_metric([event], count)
        yield family


class _ResponseCacheCollector(Collector):
    """The shared response cache's counters and size per service, read at scrape time."""

    def __init__(self, events: ServiceCounts, held: ServiceBytes) -> None:
        self._events = events
        self._held = held

    def collect(self) -> Iterator[Metric]:
        events = CounterMetricFamily(
            "scripthost_backend_cache_events",
            "Shared response cache by service: hit, miss, stale (served past freshness), "
            "store, not_stored, too_large, evict",
            labels=["service", "event"],
        )
        for service, counts in sorted(self._events().items()):
            for event, count in sorted(counts.items()):
                events.add_metric([service, event], count)
        yield events
        held = GaugeMetricFamily(
            "scripthost_backend_cache_bytes",
            "Bytes of answers the shared response cache holds, by service",
            labels=["service"],
        )
        for service, size in sorted(self._held().items()):
            held.add_metric([service], size)
        yield held
