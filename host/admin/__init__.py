"""The management REST API under /admin/v1."""

from host.admin import _history as _history  # registers its routes on admin_api
from host.admin import _quotas as _quotas  # registers its routes on admin_api
from host.admin import _runtimes as _runtimes  # registers its routes on admin_api
from host.admin import _services as _services  # registers its routes on admin_api
from host.admin import _stats as _stats  # registers its routes on admin_api
from host.admin import _traffic as _traffic  # registers its routes on admin_api
from host.admin._api import admin_api
from host.admin._auth import principal
from host.admin._inputs import MAX_SOURCE_BYTES
from host.admin._stats import stats_snapshot

__all__ = ["MAX_SOURCE_BYTES", "admin_api", "principal", "stats_snapshot"]
