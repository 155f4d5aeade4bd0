"""Which version of an endpoint a request runs: the one place that is chosen.

The endpoint's traffic plan (a canary's split, device-class rules; see
`host.traffic`) decides from the request's head, without I/O; an endpoint
without a plan runs its active version.
"""

from __future__ import annotations

from host.device._head import RequestHead
from host.routing import Route
from host.traffic import Selection, choose


def chosen_version(
    route: Route, head: RequestHead, request_id: str
) -> tuple[Route, Selection | None]:
    """The route as this request runs it (its version, module and quotas), and why."""
    if route.plan is None:
        return route, None
    selection = choose(route.plan, _first_values(head.forwarded), request_id)
    return route.serving(selection), selection


def _first_values(headers: list[tuple[str, str]]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, value in headers:
        found.setdefault(name, value)
    return found
