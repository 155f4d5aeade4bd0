"""A closed-loop HTTP load generator on httpx: N callers, each sending its next request
as soon as the previous one is answered, for a fixed duration."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx


@dataclass
class LoadResult:
    url: str
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())

    @property
    def success_rate(self) -> float:
        return self.outcomes["200"] / self.requests if self.requests else 0.0

    def percentile_ms(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def summary(self) -> dict[str, object]:
        return {
            "url": self.url,
            "requests": self.requests,
            "rps": round(self.requests / self.seconds, 1),
            "success_rate": round(self.success_rate, 5),
            "p50_ms": round(statistics.median(self.latencies_ms), 2) if self.latencies_ms else None,
            "p99_ms": round(self.percentile_ms(99), 2),
            "outcomes": dict(self.outcomes),
        }


async def _caller(client: httpx.AsyncClient, result: LoadResult, until: float) -> None:
    while time.monotonic() < until:
        started = time.monotonic()
        try:
            response = await client.get(result.url)
            outcome = str(response.status_code)
            if response.status_code != 200:
                failure = response.headers.get("x-scripthost-failure") or _error(response)
                outcome = f"{outcome} {failure}"
        except httpx.HTTPError as error:
            outcome = type(error).__name__
        result.latencies_ms.append((time.monotonic() - started) * 1000)
        result.outcomes[outcome] += 1


def _error(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))
    except ValueError:
        return ""


async def load(urls: dict[str, int], seconds: float) -> dict[str, LoadResult]:
    """Drive each URL with its number of concurrent callers, all at once."""
    results = {url: LoadResult(url, seconds) for url in urls}
    limits = httpx.Limits(max_connections=sum(urls.values()) + 8)
    async with httpx.AsyncClient(timeout=30.0, limits=limits) as client:
        until = time.monotonic() + seconds
        await asyncio.gather(
            *(
                _caller(client, results[url], until)
                for url, callers in urls.items()
                for _ in range(callers)
            )
        )
    return results
