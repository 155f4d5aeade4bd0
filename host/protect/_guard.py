"""Admission around the sandbox: kill switches aside, every refusal a request can get.

An I/O-free core: the device path asks `admit` before running a script and
calls `release` after, passing the clock; nothing here touches the network,
the registry or the sandbox.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from host.failures import FailureClass
from host.protect._breaker import BreakerPolicy, BreakerState, CircuitBreaker
from host.protect._bucket import TokenBucket
from host.protect._pacer import RefusalPacer
from host.protect._shedder import LoadShedder
from host.quotas import EndpointQuotas

EndpointKey = tuple[str, str]
# Failures that cost the host resources; a storm of them trips the breaker.
RESOURCE_FAILURES = frozenset(
    {FailureClass.FUEL_EXHAUSTED, FailureClass.TIMEOUT, FailureClass.MEMORY_EXCEEDED}
)


@dataclass(frozen=True, slots=True)
class Load:
    """The sandbox queue as one request finds it."""

    queued: int
    # How long the oldest waiting request of the same endpoint has waited.
    own_oldest_wait_ms: float


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    error: str
    message: str
    retry_after_s: float
    # Held before it is sent (see RefusalPacer): the endpoint will not run for a while,
    # so asking again at once cannot change the answer.
    paced: bool = False

    @property
    def retry_after_header(self) -> str:
        return str(max(1, math.ceil(self.retry_after_s)))


@dataclass(slots=True)
class _EndpointState:
    breaker: CircuitBreaker
    running: int = 0
    bucket: TokenBucket | None = None
    bucket_shape: tuple[int, int] = (0, 0)


@dataclass
class Guards:
    shedder: LoadShedder
    breaker_policy: BreakerPolicy = field(default_factory=BreakerPolicy)
    on_trip: Callable[[EndpointKey], None] | None = None
    # Called when a probe of this process's closes the endpoint's breaker.
    on_recover: Callable[[EndpointKey], None] | None = None
    on_shed: Callable[[EndpointKey], None] | None = None
    pacer: RefusalPacer = field(default_factory=RefusalPacer)
    _endpoints: dict[EndpointKey, _EndpointState] = field(default_factory=dict)

    def admit(
        self, key: EndpointKey, quotas: EndpointQuotas, load: Load, now: float
    ) -> Refusal | None:
        """None and a reserved slot, or why the request is refused."""
        state = self._state(key)
        wait = state.breaker.admit(now)
        if wait is not None:
            return circuit_open(wait)
        refusal = self._quota_refusal(state, quotas, now) or self._shed(key, load, quotas)
        if refusal is not None:
            state.breaker.cancel_probe()
            return refusal
        state.running += 1
        return None

    def release(self, key: EndpointKey, failure: FailureClass | None, now: float) -> bool:
        """Give the slot back and count the outcome; True if the breaker just tripped."""
        state = self._state(key)
        state.running -= 1
        breaker = state.breaker
        probed = breaker.state is BreakerState.HALF_OPEN
        tripped = breaker.record(now, resource_failure=failure in RESOURCE_FAILURES)
        if tripped and self.on_trip is not None:
            self.on_trip(key)
        elif probed and breaker.state is BreakerState.CLOSED and self.on_recover is not None:
            self.on_recover(key)
        return tripped

    def follow_trip(self, key: EndpointKey, cooldown_s: float, now: float) -> bool:
        """A sibling process's breaker for `key` opened: open this one too (`on_trip` is
        not called: the sibling has told everyone). True if it opened or now stays open
        longer.

        The caller makes sure `key` is an endpoint this process serves: each
        key seen here keeps its state for good.
        """
        return self._state(key).breaker.follow(now, cooldown_s)

    def follow_recovery(self, key: EndpointKey) -> bool:
        """A sibling process's probe of `key` succeeded: close this breaker too (no
        `on_recover`: no echo). True if it was open or half-open; as `follow_trip`, the
        caller makes sure `key` is an endpoint this process serves."""
        return self._state(key).breaker.recover()

    def open_for(self, key: EndpointKey, now: float) -> float | None:
        """Seconds the endpoint's breaker stays open, without changing its state."""
        state = self._endpoints.get(key)
        if state is None or state.breaker.state is not BreakerState.OPEN:
            return None
        remaining = state.breaker.open_until - now
        return remaining if remaining > 0 else None

    def breaker_state(self, key: EndpointKey) -> BreakerState:
        state = self._endpoints.get(key)
        return state.breaker.state if state else BreakerState.CLOSED

    def open_breakers(self) -> list[EndpointKey]:
        return [k for k, s in self._endpoints.items() if s.breaker.state is not BreakerState.CLOSED]

    def _state(self, key: EndpointKey) -> _EndpointState:
        state = self._endpoints.get(key)
        if state is None:
            state = self._endpoints[key] = _EndpointState(CircuitBreaker(self.breaker_policy))
        return state

    def _quota_refusal(
        self, state: _EndpointState, quotas: EndpointQuotas, now: float
    ) -> Refusal | None:
        if quotas.rps > 0:
            wait = _bucket(state, quotas).try_take(now)
            if wait is not None:
                return Refusal(429, "rate_limited", _RATE_LIMITED.format(quotas.rps), wait)
        if 0 < quotas.max_concurrency <= state.running:
            message = _TOO_MANY_AT_ONCE.format(quotas.max_concurrency)
            return Refusal(429, "concurrency_exceeded", message, 1.0)
        return None

    def _shed(self, key: EndpointKey, load: Load, quotas: EndpointQuotas) -> Refusal | None:
        if self.shedder.admit(load.queued, load.own_oldest_wait_ms, quotas.limits.timeout_ms):
            return None
        if self.on_shed is not None:
            self.on_shed(key)
        return Refusal(503, "overloaded", _OVERLOADED, 1.0)


def circuit_open(wait_s: float) -> Refusal:
    return Refusal(503, "circuit_open", _CIRCUIT_OPEN, wait_s, paced=True)


# A switched-off endpoint: clients come back after a while, not at once.
DISABLED = Refusal(503, "disabled", "this endpoint is switched off", 30.0, paced=True)


def _bucket(state: _EndpointState, quotas: EndpointQuotas) -> TokenBucket:
    shape = (quotas.rps, quotas.burst or quotas.rps)
    if state.bucket is None or state.bucket_shape != shape:
        state.bucket = TokenBucket(rate=shape[0], burst=shape[1])
        state.bucket_shape = shape
    return state.bucket


_CIRCUIT_OPEN = "this endpoint failed too often and is paused; it is tried again shortly"
_RATE_LIMITED = "this endpoint's quota of {} requests per second is used up"
_TOO_MANY_AT_ONCE = "this endpoint already runs {} requests at once, its quota"
_OVERLOADED = "the host is overloaded; retry shortly"
