"""Observability: structured request logs, Prometheus metrics, recent traffic and failures."""

from host.observe._observer import Observer, Served
from host.observe._window import WINDOW_SECONDS

__all__ = ["WINDOW_SECONDS", "Observer", "Served"]
