"""Which endpoint a device request is for, and whether it may run at all: one lookup decides.

Everything that needs no body and no quota is decided here, from the route
table alone, before a byte of the body is read: no endpoint (404), a
switched-off one (503), a method it does not allow (405), an open circuit
breaker (503). A device retrying in a tight loop against any of them costs
the host one dictionary lookup and a small JSON answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from host.protect import DISABLED, Guards, Refusal, circuit_open
from host.routing import Route, RouteTable

# The methods a device may call an endpoint with (and an endpoint may allow).
DEVICE_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
# Namespaces the host's own routes use: never a device endpoint's.
RESERVED_NAMESPACES = frozenset({"admin", "console", "metrics", "healthz", "readyz"})


@dataclass(frozen=True, slots=True)
class NotFound:
    message: str = "no endpoint at this path"


@dataclass(frozen=True, slots=True)
class MethodNotAllowed:
    method: str
    allowed: frozenset[str]

    @property
    def allow_header(self) -> str:
        return ", ".join(sorted(self.allowed))


@dataclass(frozen=True, slots=True)
class Refused:
    """The route exists and allows the method, but may not run now."""

    route: Route
    refusal: Refusal


Decision = Route | NotFound | MethodNotAllowed | Refused


def split_path(path: str) -> tuple[str, str] | None:
    """(namespace, endpoint path) of a device URL path, or None when it names no endpoint.

    Paths match as sent: `//` is never merged, so `/tv//home` is no endpoint's
    path; trailing slashes are not part of an endpoint's path.
    """
    namespace, slash, rest = path[1:].partition("/")
    if not namespace or rest.startswith("/"):
        return None
    return namespace, ("/" + rest.rstrip("/")) if slash else "/"


def decide(
    routes: RouteTable, guards: Guards, namespace: str, path: str, method: str, now: float
) -> Decision:
    route = routes.lookup(namespace, path)
    if route is None or route.module_hash is None or namespace in RESERVED_NAMESPACES:
        return NotFound()
    if not route.enabled:
        return Refused(route, DISABLED)
    if method not in route.methods:
        return MethodNotAllowed(method, route.methods)
    wait = guards.open_for(route.key, now)
    if wait is not None:
        return Refused(route, circuit_open(wait))
    return route
