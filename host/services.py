"""The catalogue a host serves: its read-only layer over the registry's managed services.

Services come from two places:

- **Managed** services live in the registry. Admins create, change and
  delete them through the management API or `scripthost service`; every
  change is audited and reaches every host through the change feed, within
  one refresh interval, without a restart.
- **Static** services are the host's own, given at start with `--backend`
  or `--catalogue`: a read-only layer, served as given for the host's
  lifetime. The API lists them (`"source": "static"`) but will not change
  or delete them, and a static service hides a managed one of the same name
  on that host. They suit a single host, a development setup, or a service
  that must not change at runtime.

A managed spec this host cannot read (written by a newer host, say) is
logged and skipped; the version it served before, if any, stays.
"""

from __future__ import annotations

from collections.abc import Iterable

from host.backends import BackendGateway, Catalogue, Service
from host.logs import get_logger
from host.service_spec import service_from_stored
from registry import ServiceRecord

log = get_logger("scripthost.services")


class LiveCatalogue:
    def __init__(self, static: Catalogue, gateway: BackendGateway) -> None:
        self._static = static
        self._gateway = gateway
        self._managed: dict[str, Service] = {}
        gateway.use_catalogue(static)

    @property
    def current(self) -> Catalogue:
        return self._gateway.catalogue

    def is_static(self, name: str) -> bool:
        return self._static.get(name) is not None

    def static_services(self) -> list[Service]:
        return list(self._static)

    def allowed_for(self, namespace: str, path: str) -> frozenset[str]:
        return self.current.allowed_for(namespace, path)

    def apply(self, records: Iterable[ServiceRecord]) -> None:
        """Serve the registry's managed services (under the static layer) from now on."""
        managed: dict[str, Service] = {}
        for record in records:
            if self.is_static(record.name):
                continue
            try:
                managed[record.name] = service_from_stored(record.name, record.spec)
            except ValueError as error:
                log.warning("service spec not applied", service=record.name, error=str(error))
                if record.name in self._managed:
                    managed[record.name] = self._managed[record.name]
        self._managed = managed
        self._gateway.use_catalogue(Catalogue([*managed.values(), *self._static]))
