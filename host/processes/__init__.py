"""A host on every core: processes behind one listening socket, and what they share.

The parent (`supervise`) binds the socket, starts one full host per process,
hands the connections it accepts to the processes in turn (`serve_handed`
serves them in the child) and replaces any that dies. Each process keeps its
own route table, caches and change feed; what a scrape or the stats API must
see whole goes through the shared directory: Prometheus's multiprocess files,
and one Unix socket per process on which it hands its recent traffic to a
sibling (`gather_siblings`) and hears of a sibling's circuit breaker opening
or, after its probe, closing (`TripNotices`).

A single process serves the connections it accepts itself (`serve_listening`);
both ways run Hypercorn's lifespan and per-connection server (`_connections`).
"""

from host.processes._connections import serve_listening
from host.processes._handoff import serve_handed
from host.processes._siblings import (
    Recovery,
    SiblingServer,
    Trip,
    TripNotices,
    gather_siblings,
)
from host.processes._supervisor import exit_with_parent, supervise

__all__ = [
    "Recovery",
    "SiblingServer",
    "Trip",
    "TripNotices",
    "exit_with_parent",
    "gather_siblings",
    "serve_handed",
    "serve_listening",
    "supervise",
]
