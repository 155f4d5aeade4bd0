"""Which version of an endpoint a request runs: the one place that is chosen.

Today it is always the endpoint's active version. Rules that send part of
the traffic (or one class of device) to another version decide here, from
the route and the request's head, without I/O.
"""

from __future__ import annotations

from host.device._head import RequestHead
from host.routing import Route


def chosen_version(route: Route, head: RequestHead) -> Route:
    """The route as this request runs it: its version, module and quotas."""
    return route
