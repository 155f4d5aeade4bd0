"""The route table: (namespace, path) -> what serves it, refreshed from the registry's change feed.

A route changes only after its new module is in the cache, so traffic moves
to a new version only once this host can serve it: a deploy fails no request.
The same feed carries changes to the managed service catalogue: those reload
the catalogue and re-derive every route's allowed services.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from host.cache import ModuleCache
from host.limits import Limits
from host.logs import get_logger
from host.quotas import EndpointQuotas
from host.sandbox import ModuleKind
from host.services import LiveCatalogue
from registry import Endpoint, NotFound, Registry, Version

log = get_logger("scripthost.routing")


@dataclass(frozen=True, slots=True)
class Route:
    namespace: str
    path: str
    methods: frozenset[str]
    enabled: bool
    version: str | None
    module_hash: str | None
    kind: ModuleKind
    config: Mapping[str, str]
    quotas: EndpointQuotas
    allowed_services: frozenset[str]

    @property
    def endpoint(self) -> str:
        return f"{self.namespace}{self.path}"

    @property
    def key(self) -> tuple[str, str]:
        return (self.namespace, self.path)

    @property
    def limits(self) -> Limits:
        return self.quotas.limits


def module_kind_of(language: str) -> ModuleKind:
    return ModuleKind.JAVY if language == "javy" else ModuleKind.COMPONENT


@dataclass
class RouteTable:
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    seq: int = 0
    last_refresh_ok: bool = False
    last_refresh_at: float = 0.0

    def lookup(self, namespace: str, path: str) -> Route | None:
        return self.routes.get((namespace, path))

    def __len__(self) -> int:
        return len(self.routes)

    def count(self, in_namespace: Callable[[str], bool]) -> int:
        """How many endpoints are in the namespaces `in_namespace` accepts."""
        return sum(1 for namespace, _ in self.routes if in_namespace(namespace))


class RouteRefresher:
    """Keeps a RouteTable in step with the registry by polling its change feed."""

    def __init__(
        self,
        registry: Registry,
        table: RouteTable,
        cache: ModuleCache,
        default_quotas: EndpointQuotas,
        catalogue: LiveCatalogue,
        interval_s: float,
    ) -> None:
        self._registry = registry
        self._table = table
        self._cache = cache
        self._default_quotas = default_quotas
        self._catalogue = catalogue
        self._interval_s = interval_s
        # The poll loop and a deploy on this host may both ask for a refresh.
        self._lock = asyncio.Lock()

    async def load_all(self) -> None:
        seq = await self._registry.latest_seq()
        await self._reload_services()
        endpoints = await self._registry.list_endpoints()
        await self._apply(endpoints)
        self._table.seq = seq
        self._mark(ok=True)

    async def poll_once(self) -> int:
        """Apply the changes since the last poll; return how many endpoints changed."""
        async with self._lock:
            return await self._apply_changes()

    async def _apply_changes(self) -> int:
        changes = await self._registry.changes_since(self._table.seq)
        if not changes:
            self._mark(ok=True)
            return 0
        catalogue_changed = any(change.is_catalogue for change in changes)
        if catalogue_changed:
            await self._reload_services()
        endpoint_changes = [change for change in changes if not change.is_catalogue]
        keys: set[tuple[str, str]] = {
            (change.namespace, change.path)
            for change in endpoint_changes
            if change.namespace is not None and change.path is not None
        }
        # A global change (namespace None) touches every endpoint.
        namespaces = {change.namespace for change in endpoint_changes if change.path is None}
        for namespace in namespaces:
            keys |= {key for key in self._table.routes if namespace in (None, key[0])}
            keys |= {(e.namespace, e.path) for e in await self._registry.list_endpoints(namespace)}
        for namespace, path in keys:
            await self._refresh_endpoint(namespace, path)
        if catalogue_changed:
            self._rederive_allowed_services()
        self._table.seq = max(change.seq for change in changes)
        self._mark(ok=True)
        log.info(
            "changes applied",
            first_seq=changes[0].seq,
            last_seq=self._table.seq,
            changes=len(changes),
            endpoints=len(keys),
        )
        return len(keys)

    async def run(self) -> None:
        while True:
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if self._table.last_refresh_ok:
                    log.warning("route refresh failed", error=str(error))
                self._mark(ok=False)
            await asyncio.sleep(self._interval_s)

    async def _reload_services(self) -> None:
        self._catalogue.apply(await self._registry.list_services())

    def _rederive_allowed_services(self) -> None:
        """Every route's allow-list, from the catalogue as it now is."""
        for key, route in self._table.routes.items():
            allowed = self._catalogue.allowed_for(route.namespace, route.path)
            if allowed != route.allowed_services:
                self._table.routes[key] = dataclasses.replace(route, allowed_services=allowed)

    async def _refresh_endpoint(self, namespace: str, path: str) -> None:
        try:
            endpoint = await self._registry.get_endpoint(namespace, path)
        except NotFound:
            self._table.routes.pop((namespace, path), None)
            return
        await self._apply([endpoint])

    async def _apply(self, endpoints: Iterable[Endpoint]) -> None:
        for endpoint in endpoints:
            route = await self._route_for(endpoint)
            self._table.routes[(endpoint.namespace, endpoint.path)] = route

    async def _route_for(self, endpoint: Endpoint) -> Route:
        version: Version | None = None
        if endpoint.active_version is not None:
            version = await self._registry.get_version(
                endpoint.namespace, endpoint.path, endpoint.active_version
            )
        quotas = await self._registry.effective_quotas(endpoint.namespace, endpoint.path)
        namespace = await self._registry.get_namespace(endpoint.namespace)
        route = Route(
            namespace=endpoint.namespace,
            path=endpoint.path,
            methods=frozenset(endpoint.methods),
            enabled=endpoint.enabled and namespace.enabled,
            version=version.id if version else None,
            module_hash=version.module_hash if version else None,
            kind=module_kind_of(version.language) if version else ModuleKind.COMPONENT,
            config=dict(endpoint.config),
            quotas=self._default_quotas.resolve(quotas),
            allowed_services=self._catalogue.allowed_for(endpoint.namespace, endpoint.path),
        )
        if route.module_hash is not None:
            # Warm before publishing the route: traffic never waits on a load.
            await self._cache.get(route.module_hash, route.kind)
        return route

    def _mark(self, *, ok: bool) -> None:
        self._table.last_refresh_ok = ok
        self._table.last_refresh_at = time.monotonic()
