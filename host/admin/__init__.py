"""The management REST API under /admin/v1."""

from host.admin._api import admin_api

__all__ = ["admin_api"]
