"""Self-protection: rate and concurrency quotas, load shedding and circuit breakers."""

from host.protect._breaker import BreakerPolicy, BreakerState, CircuitBreaker
from host.protect._bucket import TokenBucket
from host.protect._fair import LONG_TURN_MS, FairGate, Withdrawn
from host.protect._guard import DISABLED, EndpointKey, Guards, Load, Refusal, circuit_open
from host.protect._pacer import RefusalPacer
from host.protect._shedder import LoadShedder

__all__ = [
    "DISABLED",
    "LONG_TURN_MS",
    "BreakerPolicy",
    "BreakerState",
    "CircuitBreaker",
    "EndpointKey",
    "FairGate",
    "Guards",
    "Load",
    "LoadShedder",
    "Refusal",
    "RefusalPacer",
    "TokenBucket",
    "Withdrawn",
    "circuit_open",
]
