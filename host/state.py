"""Everything a serving host holds, created at startup and closed at shutdown."""

from __future__ import annotations

from dataclasses import dataclass

from quart import current_app

from host.auth import TokenBook
from host.backends import BackendGateway
from host.cache import ModuleCache
from host.canary import CanaryJudge
from host.loader import Loader
from host.observe import Observer
from host.processes import TripNotices
from host.protect import FairGate, Guards
from host.routing import RouteRefresher, RouteTable
from host.sandbox import Sandbox, SandboxEngine
from host.services import LiveCatalogue
from host.settings import Settings
from registry import Registry

STATE_KEY = "scripthost"


@dataclass
class HostState:
    settings: Settings
    registry: Registry
    engine: SandboxEngine
    sandbox: Sandbox
    cache: ModuleCache
    loader: Loader
    gateway: BackendGateway
    services: LiveCatalogue
    routes: RouteTable
    refresher: RouteRefresher
    tokens: TokenBook
    guards: Guards
    gate: FairGate
    observer: Observer
    canary_judge: CanaryJudge
    # Tells the host's other processes of this one's breaker trips; None in a single process.
    trip_notices: TripNotices | None = None


def host_state() -> HostState:
    state: HostState = current_app.extensions[STATE_KEY]
    return state
