"""The shared response cache on the gateway's path: lookups, one fetch per key, stale answers.

For a call the cache may answer (`host.response_cache` says which):

- a fresh entry answers at once (`hit`);
- an entry within `stale-while-revalidate` answers at once (`stale`) while one
  background call refreshes it;
- otherwise the service is called (`miss`). Concurrent misses for one key,
  from any number of requests, share one call: it runs to the service's own
  timeout, so it can fill the cache for everyone, while each caller waits
  no longer than its own deadline;
- when that call fails (no answer, or 500/502/503/504) and an entry is within
  `stale-if-error`, the entry answers (`stale`).

The script sees where its answer came from in the response header
`x-scripthost-cache` (`hit`, `stale` or `miss`); a service cannot send that
header itself.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

from host.backend_types import (
    BackendError,
    BackendErrorKind,
    BackendOutcome,
    BackendResponse,
    CallSource,
)
from host.logs import get_logger
from host.response_cache import CacheKey, CachePolicy, Entry, Freshness, ResponseCache, lifetimes

log = get_logger("scripthost.backends")

CACHE_STATUS_HEADER = "x-scripthost-cache"
# RFC 5861: the errors a stale answer may stand in for.
_ERROR_STATUSES = frozenset({500, 502, 503, 504})
_FAILURES = frozenset({BackendErrorKind.TIMEOUT, BackendErrorKind.UNAVAILABLE})

Fetch = Callable[[], Awaitable[BackendOutcome]]
Answer = tuple[BackendOutcome, CallSource]


class SharedResponses:
    def __init__(self, store: ResponseCache, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self._clock = clock
        self._fetches: dict[CacheKey, asyncio.Task[BackendOutcome]] = {}
        # Bumped when a service's catalogue entry changes: a fetch begun under
        # the old entry must not store its answer under the new one.
        self._generations: Counter[str] = Counter()

    async def call(
        self, key: CacheKey, policy: CachePolicy, fetch: Fetch, *, wait_s: float, fresh: bool
    ) -> Answer:
        """Answer from the cache where the rules allow, else from one shared `fetch()`."""
        found = None if fresh else self.store.lookup(key, self._clock())
        if found is not None and found.freshness is Freshness.FRESH:
            self.store.count(key.service, "hit")
            return _flagged(found.entry, "hit"), CallSource.CACHE
        if found is not None and found.freshness is Freshness.STALE:
            self.store.count(key.service, "stale")
            self._fetch(key, policy, fetch)
            return _flagged(found.entry, "stale"), CallSource.STALE
        outcome = await self._wait(self._fetch(key, policy, fetch), key, wait_s)
        if found is not None and _failed(outcome) and self._clock() < found.entry.error_until:
            self.store.count(key.service, "stale")
            return _flagged(found.entry, "stale"), CallSource.STALE
        self.store.count(key.service, "miss")
        if isinstance(outcome, BackendResponse):
            outcome = _flagged(outcome, "miss")
        return outcome, CallSource.NETWORK

    def invalidate(self, service: str, path: str) -> None:
        self.store.invalidate(service, path)

    def forget(self, service: str) -> None:
        """Drop a service's answers, and those of fetches still running for it."""
        self._generations[service] += 1
        self.store.drop(service)

    async def aclose(self) -> None:
        """Cancel the fetches still running (background refreshes among them)."""
        running = list(self._fetches.values())
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def _fetch(
        self, key: CacheKey, policy: CachePolicy, fetch: Fetch
    ) -> asyncio.Task[BackendOutcome]:
        """The one running fetch of `key`, started if there is none."""
        running = self._fetches.get(key)
        if running is None:
            running = asyncio.ensure_future(self._fetch_and_store(key, policy, fetch))
            self._fetches[key] = running
            running.add_done_callback(lambda done: self._finished(key, done))
        return running

    def _finished(self, key: CacheKey, task: asyncio.Task[BackendOutcome]) -> None:
        if self._fetches.get(key) is task:
            del self._fetches[key]
        if not task.cancelled() and task.exception() is not None:
            log.warning("cache fetch failed", service=key.service, error=repr(task.exception()))

    async def _fetch_and_store(
        self, key: CacheKey, policy: CachePolicy, fetch: Fetch
    ) -> BackendOutcome:
        generation = self._generations[key.service]
        outcome = await fetch()
        if generation != self._generations[key.service]:
            return outcome
        if isinstance(outcome, BackendResponse):
            found = lifetimes(policy, outcome.status, outcome.headers)
            if found is None:
                self.store.count(key.service, "not_stored")
            else:
                answer = (outcome.status, outcome.headers, outcome.body)
                self.store.store(key, policy, found, answer, self._clock())
        return outcome

    async def _wait(
        self, fetch: asyncio.Task[BackendOutcome], key: CacheKey, wait_s: float
    ) -> BackendOutcome:
        if wait_s <= 0:
            return BackendError(
                BackendErrorKind.TIMEOUT, "no time left before the request deadline"
            )
        try:
            # Shielded: a caller that stops waiting leaves the fetch to fill the cache.
            async with asyncio.timeout(wait_s):
                return await asyncio.shield(fetch)
        except TimeoutError:
            return BackendError(BackendErrorKind.TIMEOUT, f"{key.service} did not answer in time")


def _failed(outcome: BackendOutcome) -> bool:
    if isinstance(outcome, BackendError):
        return outcome.kind in _FAILURES
    return outcome.status in _ERROR_STATUSES


def _flagged(answer: Entry | BackendResponse, status: str) -> BackendResponse:
    """The answer as the script gets it, saying where it came from."""
    headers = [*answer.headers, (CACHE_STATUS_HEADER, status)]
    return BackendResponse(answer.status, headers, answer.body)
