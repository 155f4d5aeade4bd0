"""The analysis loop every host runs: publish this host's tallies, and judge where it holds
the lease.

Each tick, for every canary run in this host's route table: write this
host's cumulative report to the registry, then try the run's endpoint lease.
The holder (one host per endpoint, for as long as it keeps renewing; another
takes over within a lease time when it stops) reads every host's report,
judges the sum, and stores the one verdict: `end_canary` to promote or roll
back when the endpoint's analysis is `auto`, `record_verdict` otherwise and
for a hold. A verdict is recorded when its kind or cause changes, not every
tick; the evidence of the moment goes with it. `end_canary` names the run it
ends, so a verdict on a run that has meanwhile ended or been replaced is
refused by the registry and applies nowhere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping

from host.canary._analysis import AnalysisSettings, Verdict, VerdictKind, judge
from host.canary._tally import CanaryTallies, RunKey, merged
from host.logs import get_logger
from host.routing import RouteTable
from host.traffic import TrafficPlan
from registry import CanaryEnd, Conflict, NotFound, Registry, Traffic

log = get_logger("scripthost.canary")

ANALYST = "canary-analysis"
"""The actor of every automatic verdict in the audit log."""
_APPLIED = {VerdictKind.PROMOTE: CanaryEnd.PROMOTED, VerdictKind.ROLLBACK: CanaryEnd.ROLLED_BACK}


class CanaryJudge:
    def __init__(
        self,
        registry: Registry,
        routes: RouteTable,
        tallies: CanaryTallies,
        *,
        holder: str,
        interval_s: float,
        on_decided: Callable[[], Awaitable[object]],
    ) -> None:
        self._registry = registry
        self._routes = routes
        self._tallies = tallies
        self._holder = holder
        self._interval_s = interval_s
        self._lease_s = max(2.0, 3 * interval_s)
        # A decision moves traffic on this host at once, the others within a refresh.
        self._on_decided = on_decided

    async def run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("canary analysis failed", error=str(error))
            await asyncio.sleep(self._interval_s)

    async def tick(self) -> None:
        live: set[RunKey] = set()
        for route in list(self._routes.routes.values()):
            plan = route.plan
            if plan is None or plan.canary_id is None:
                continue
            run = (route.key, plan.canary_id)
            live.add(run)
            await self._publish(run)
            lease = f"canary:{route.namespace}{route.path}"
            if await self._registry.try_lease(lease, self._holder, self._lease_s):
                await self._decide(run, plan)
        self._tallies.keep_only(live)

    async def _publish(self, run: RunKey) -> None:
        report = self._tallies.report(run)
        if report is None:
            return
        (namespace, path), canary_id = run
        await self._registry.put_canary_report(
            namespace, path, canary_id=canary_id, reporter=self._holder, report=report
        )

    async def _decide(self, run: RunKey, plan: TrafficPlan) -> None:
        (namespace, path), canary_id = run
        try:
            traffic = await self._registry.get_traffic(namespace, path)
        except NotFound:
            return
        if traffic.canary_id != canary_id:
            return  # ended or replaced since this host's last refresh
        settings = AnalysisSettings.stored(traffic.policy.analysis)
        reports = await self._registry.canary_reports(namespace, path, canary_id)
        verdict = judge(merged(r.report for r in reports), settings, elapsed_s(traffic))
        applied = settings.auto and verdict.kind in _APPLIED
        if not applied and not _changed(traffic.verdict, verdict):
            return
        document = verdict.document(
            settings,
            applied=applied,
            canary_id=canary_id,
            stable=plan.stable.version,
            candidate=plan.candidate.version if plan.candidate else None,
            hosts=len(reports),
            decided_by=self._holder,
        )
        try:
            if applied:
                await self._registry.end_canary(
                    namespace,
                    path,
                    canary_id=canary_id,
                    outcome=_APPLIED[verdict.kind],
                    actor=ANALYST,
                    verdict=document,
                )
            else:
                await self._registry.record_verdict(
                    namespace, path, canary_id=canary_id, verdict=document, actor=ANALYST
                )
        except (Conflict, NotFound):
            return  # the run ended meanwhile: this verdict concerns nothing
        _log_verdict(namespace, path, verdict, document)
        if applied:
            await self._on_decided()


def elapsed_s(traffic: Traffic) -> float:
    """How long the traffic's canary run has served."""
    started = traffic.canary_started_at
    return 0.0 if started is None else max(0.0, time.time() - started.timestamp())


def _changed(stored: Mapping[str, object] | None, verdict: Verdict) -> bool:
    if stored is None:
        return True
    return (stored.get("verdict"), stored.get("cause")) != (verdict.kind.value, verdict.cause.value)


def _log_verdict(namespace: str, path: str, verdict: Verdict, document: dict[str, object]) -> None:
    log.info(
        "canary verdict",
        namespace=namespace,
        endpoint=path,
        verdict=verdict.kind.value,
        cause=verdict.cause.value,
        applied=document["applied"],
        candidate=document["candidate"],
        stable=document["stable"],
        reasons=list(verdict.reasons),
        hosts=document["hosts"],
    )
