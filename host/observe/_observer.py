"""One place that sees every request: the log line, the metrics, the recent-traffic windows
and the recent failures with their ABI traces."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import asdict, astuple, dataclass
from typing import Any

from prometheus_client import Counter

from host.cache import CompileEvent
from host.canary import CanaryTallies
from host.logs import get_logger
from host.observe._metrics import Metrics
from host.observe._window import WINDOW_SECONDS, EndpointWindow, Sample, merge_windows
from host.protect import EndpointKey, Refusal
from host.sandbox import RunResult
from host.traffic import Selection

log = get_logger("scripthost.request")
compile_log = get_logger("scripthost.compile")
_RECENT_FAILURES = 200


@dataclass(frozen=True, slots=True)
class Served:
    """Who served a request: the route's identity, as the observer needs it."""

    namespace: str
    path: str
    version: str | None
    # How the version was chosen, when the endpoint has a traffic plan.
    selection: Selection | None = None

    @property
    def key(self) -> EndpointKey:
        return (self.namespace, self.path)


class _EndpointSeries:
    """An endpoint's metric series and traffic window, found once per request by one lookup.

    prometheus_client's `labels()` builds and locks per call; the children it
    returns are kept here instead, so counting a request costs a dict lookup.
    """

    __slots__ = ("_counts", "_labels", "_requests", "fuel", "latency", "memory", "window")

    def __init__(self, metrics: Metrics, namespace: str, path: str) -> None:
        self._labels = {"namespace": namespace, "endpoint": path}
        self._requests = metrics.requests
        self._counts: dict[tuple[str, int, str], Counter] = {}
        self.latency = metrics.latency.labels(**self._labels)
        self.fuel = metrics.fuel.labels(**self._labels)
        self.memory = metrics.memory.labels(**self._labels)
        self.window = EndpointWindow()

    def count(self, version: str, status: int, outcome: str) -> None:
        key = (version, status, outcome)
        counter = self._counts.get(key)
        if counter is None:
            counter = self._counts[key] = self._requests.labels(
                **self._labels, version=version, status=str(status), outcome=outcome
            )
        counter.inc()


class Observer:
    def __init__(self) -> None:
        self.metrics = Metrics()
        self._series: dict[EndpointKey, _EndpointSeries] = {}
        self.failures: deque[dict[str, Any]] = deque(maxlen=_RECENT_FAILURES)
        # What this host saw of each canary run, for the canary analysis.
        self.canaries = CanaryTallies()

    def request(self, served: Served, request_id: str, result: RunResult, seconds: float) -> None:
        series = self._endpoint(served)
        series.count(served.version or "", result.status, result.outcome)
        series.latency.observe(seconds)
        series.fuel.observe(result.fuel_used)
        if result.peak_memory_bytes is not None:
            series.memory.observe(result.peak_memory_bytes)
        for call in result.backend_calls:
            outcome = call.error.value if call.error else str(call.status)
            self.metrics.backend_calls.labels(service=call.service, outcome=outcome).inc()
            self.metrics.backend_latency.labels(service=call.service).observe(
                call.duration_ms / 1000
            )
        sample = Sample(
            time.time(),
            seconds * 1000,
            result.status,
            result.outcome,
            result.fuel_used,
            result.peak_memory_bytes,
        )
        series.window.add(sample)
        if served.selection is not None:
            self.canaries.record(
                served.key,
                served.selection,
                latency_ms=sample.latency_ms,
                outcome=sample.outcome,
                status=sample.status,
                fuel=sample.fuel,
                memory=sample.memory,
            )
        if result.failure is not None:
            self._remember_failure(served, request_id, result)
        _log_request(served, request_id, result)

    def refusal(self, served: Served, request_id: str, refused: Refusal) -> None:
        series = self._endpoint(served)
        series.count(served.version or "", refused.status, refused.error)
        if refused.error == "overloaded":
            self.metrics.shed.labels(namespace=served.namespace, endpoint=served.path).inc()
        series.window.add(Sample(time.time(), 0.0, refused.status, refused.error, 0, None))
        _request_line(served, request_id, refused.status, refused.error)

    def breaker_tripped(self, key: EndpointKey) -> None:
        self.metrics.breaker_trips.labels(namespace=key[0], endpoint=key[1]).inc()
        log.warning("circuit breaker opened", namespace=key[0], endpoint=key[1])

    def compiled(self, event: CompileEvent) -> None:
        self.metrics.compile_seconds.observe(event.seconds)
        compile_log.info(
            "module compiled", module_hash=event.module_hash, seconds=round(event.seconds, 3)
        )

    def summaries(
        self, may_see: Any, siblings: Sequence[Mapping[str, Any]] = ()
    ) -> list[dict[str, object]]:
        """Each endpoint's recent traffic, over this process and its siblings' snapshots."""
        now = time.time()
        windows = {key: series.window for key, series in self._series.items()}
        if siblings:
            windows = merge_windows([windows, *(_windows_of(s) for s in siblings)])
        return [
            {"namespace": ns, "path": path, **window.summary(now)}
            for (ns, path), window in sorted(windows.items())
            if may_see(ns)
        ]

    def recent_failures(self, siblings: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        """The latest failures first, over this process and its siblings' snapshots."""
        if not siblings:
            return list(self.failures)
        failures = [*self.failures, *(f for s in siblings for f in s["failures"])]
        failures.sort(key=lambda failure: failure["at"], reverse=True)
        return failures[:_RECENT_FAILURES]

    def snapshot(self) -> dict[str, Any]:
        """This process's windows and failures as JSON, for a sibling's `summaries`."""
        since = time.time() - WINDOW_SECONDS
        return {
            "windows": [
                [ns, path, [astuple(s) for s in series.window.samples if s.at >= since]]
                for (ns, path), series in self._series.items()
            ],
            "failures": list(self.failures),
        }

    def _endpoint(self, served: Served) -> _EndpointSeries:
        key = (served.namespace, served.path)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = _EndpointSeries(self.metrics, *key)
        return series

    def _remember_failure(self, served: Served, request_id: str, result: RunResult) -> None:
        assert result.failure is not None
        self.failures.appendleft(
            {
                "at": time.time(),
                "request_id": request_id,
                "namespace": served.namespace,
                "path": served.path,
                "version": served.version,
                "status": result.status,
                "failure": result.failure.value,
                "message": result.failure_message,
                "guest_detail": result.guest_detail,
                "trace": [asdict(entry) for entry in result.trace],
                "logs": [asdict(line) for line in result.logs[-20:]],
            }
        )


def _windows_of(snapshot: Mapping[str, Any]) -> dict[EndpointKey, EndpointWindow]:
    return {
        (ns, path): EndpointWindow.of(Sample(*row) for row in rows)
        for ns, path, rows in snapshot["windows"]
    }


def _request_line(
    served: Served, request_id: str, status: int, outcome: str, **details: Any
) -> None:
    log.info(
        "request",
        request_id=request_id,
        namespace=served.namespace,
        endpoint=served.path,
        version=served.version,
        status=status,
        outcome=outcome,
        **details,
    )


def _log_request(served: Served, request_id: str, result: RunResult) -> None:
    _request_line(
        served,
        request_id,
        result.status,
        result.outcome,
        failure_message=result.failure_message or None,
        duration_ms=result.wall_ms,
        fuel=result.fuel_used,
        peak_memory=result.peak_memory_bytes,
        backend_calls=[
            {
                "service": call.service,
                "status": call.status,
                "error": call.error.value if call.error else None,
                "duration_ms": call.duration_ms,
                "source": call.source.value,
            }
            for call in result.backend_calls
        ],
    )
    for line in result.logs:
        log.info(
            "guest",
            request_id=request_id,
            namespace=served.namespace,
            endpoint=served.path,
            version=served.version,
            level_guest=line.level,
            stream=line.stream,
            message=line.message,
            **{f"field_{key}": value for key, value in line.fields.items()},
        )
    if result.failure is not None and result.guest_detail:
        log.warning("guest failure detail", request_id=request_id, detail=result.guest_detail)
