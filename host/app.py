"""The Quart application: wires settings, registry, sandbox, cache and routes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import socket
import time
import uuid
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST
from quart import Quart, Response, jsonify, redirect, request, send_from_directory
from quart_schema import QuartSchema, hide
from swagger_ui_bundle import swagger_ui_path

from host.admin import MAX_SOURCE_BYTES, admin_api, principal, stats_snapshot
from host.auth import TokenBook
from host.backends import BackendGateway
from host.cache import ModuleCache
from host.canary import CanaryJudge
from host.device import REQUEST_ID_SCOPE_KEY, request_id_from
from host.http_errors import error_response, json_error
from host.json_request import JsonRequest
from host.loader import Loader
from host.logs import configure_logging, get_logger
from host.observe import Observer
from host.processes import Recovery, SiblingServer, Trip, TripNotices
from host.protect import EndpointKey, FairGate, Guards, LoadShedder, RefusalPacer
from host.response_cache import ResponseCache
from host.routing import RouteRefresher, RouteTable
from host.sandbox import Sandbox, SandboxEngine
from host.services import LiveCatalogue
from host.settings import Settings
from host.state import STATE_KEY, HostState, host_state
from registry import open_registry

log = get_logger("scripthost.app")
CONSOLE_DIR = Path(__file__).parent / "console"
DOCS_ROUTE = "/admin/v1/docs"
# The Swagger UI is served from the PyPI package's own copy, never a CDN.
_DOCS_FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css"})
# Multipart framing around the largest module a deploy may upload.
_MULTIPART_OVERHEAD = 1 << 20
_BACKGROUND_TASKS = ("scripthost.publish_task", "scripthost.canary_task", "scripthost.refresh_task")


def create_app(settings: Settings) -> Quart:
    configure_logging(settings.log_format)
    app = Quart("scripthost")
    app.request_class = JsonRequest
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes * 2 + _MULTIPART_OVERHEAD
    # An upload's text fields (its source among them); the module is a file part.
    app.config["MAX_FORM_MEMORY_SIZE"] = MAX_SOURCE_BYTES
    app.config["QUART_SCHEMA_SWAGGER_JS_URL"] = f"{DOCS_ROUTE}/static/swagger-ui-bundle.js"
    app.config["QUART_SCHEMA_SWAGGER_CSS_URL"] = f"{DOCS_ROUTE}/static/swagger-ui.css"
    # Werkzeug would answer `//` in a path, a missing trailing slash or a
    # rule's defaults with a redirect to an absolute URL built from the
    # client's Host header: an open redirect. Paths match as sent, or not at all.
    app.url_map.merge_slashes = False
    app.url_map.strict_slashes = False
    app.url_map.redirect_defaults = False
    QuartSchema(
        app,
        openapi_path="/admin/v1/openapi.json",
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path=DOCS_ROUTE,
        info={"title": "scripthost management API", "version": "v1"},
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        security=[{"bearer": []}],
    )
    app.register_blueprint(admin_api)
    _register_probes(app)
    _register_metrics(app)
    _register_console(app)
    _register_docs(app)
    _register_error_handler(app)
    _register_lifecycle(app, settings)
    return app


def _register_metrics(app: Quart) -> None:
    @app.get("/metrics")
    @hide
    async def metrics() -> Response:
        """Admin and scrape tokens read every series; a team token its namespaces' only."""
        caller = principal()
        state = host_state()
        visible = None if caller.sees_all_metrics else caller.may_touch
        return Response(
            state.observer.metrics.exposition(visible), content_type=CONTENT_TYPE_LATEST
        )


def _register_console(app: Quart) -> None:
    @app.get("/console")
    @hide
    async def console_root() -> Response:
        return redirect("/console/")  # type: ignore[return-value]

    @app.get("/console/")
    @app.get("/console/<path:name>")
    @hide
    async def console(name: str = "index.html") -> Response:
        return await send_from_directory(CONSOLE_DIR, name)


def _register_probes(app: Quart) -> None:
    @app.get("/healthz")
    async def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> tuple[Response, int]:
        routes = host_state().routes
        if routes.last_refresh_ok:
            return jsonify({"status": "ready", "endpoints": len(routes)}), 200
        # Cached endpoints keep serving; what is degraded is deploys and refresh.
        return jsonify(
            {"status": "degraded", "reason": "registry unreachable", "endpoints": len(routes)}
        ), 503


def _register_docs(app: Quart) -> None:
    @app.get(f"{DOCS_ROUTE}/static/<name>")
    @hide
    async def docs_static(name: str) -> Response:
        if name not in _DOCS_FILES:
            return json_error(404, "not_found", "no such file")
        return await send_from_directory(swagger_ui_path, name)


def _register_error_handler(app: Quart) -> None:
    @app.errorhandler(Exception)
    async def answer(error: Exception) -> Response:
        request_id = str(
            request.scope.get(REQUEST_ID_SCOPE_KEY)
            or request_id_from(request.headers.get("x-request-id"))
        )
        response = error_response(error, request_id)
        if response is not None:
            return response
        log.exception("unhandled error", error=repr(error), request_id=request_id)
        return json_error(500, "host_error", "the host failed to handle this request", request_id)


def _register_lifecycle(app: Quart, settings: Settings) -> None:
    @app.before_serving
    async def start() -> None:
        state = await open_host_state(settings)
        app.extensions[STATE_KEY] = state
        await state.refresher.load_all()
        app.extensions["scripthost.refresh_task"] = asyncio.create_task(state.refresher.run())
        app.extensions["scripthost.canary_task"] = asyncio.create_task(state.canary_judge.run())
        if settings.process_dir is not None:
            app.extensions["scripthost.publish_task"] = asyncio.create_task(_publish_metrics(state))
            siblings = SiblingServer(
                settings.process_dir,
                lambda: stats_snapshot(state),
                lambda notice: _follow_sibling(state, notice),
            )
            await siblings.start()
            app.extensions["scripthost.siblings"] = siblings
        log.info(
            "host ready",
            endpoints=len(state.routes),
            seq=state.routes.seq,
            fingerprint=state.engine.fingerprint,
        )

    @app.after_serving
    async def stop() -> None:
        siblings: SiblingServer | None = app.extensions.pop("scripthost.siblings", None)
        if siblings is not None:
            await siblings.close()
        for name in _BACKGROUND_TASKS:
            task: asyncio.Task[None] | None = app.extensions.pop(name, None)
            if task is None:
                continue
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await close_host_state(app.extensions.pop(STATE_KEY))


async def _publish_metrics(state: HostState) -> None:
    """A sibling serving a scrape reads this process's gauges and counts as of this."""
    while True:
        state.observer.metrics.publish()
        await asyncio.sleep(state.settings.refresh_interval_s)


def _tripped(
    observer: Observer,
    gate: FairGate,
    guards: Guards,
    notices: TripNotices | None,
    key: EndpointKey,
) -> None:
    observer.breaker_tripped(key)
    gate.withdraw(key)
    cooldown_s = guards.open_for(key, time.monotonic())
    if notices is not None and cooldown_s is not None:
        notices.tell(Trip(*key, cooldown_s))


def _recovered(notices: TripNotices | None, key: EndpointKey) -> None:
    if notices is not None:
        notices.tell(Recovery(*key))


def _follow_sibling(state: HostState, notice: Trip | Recovery) -> bool:
    """A sibling process's breaker opened or, after its probe, closed: do the same here,
    if this process serves the endpoint (a notice for any other keeps no state here).
    Never told on: no echo."""
    if state.routes.lookup(*notice.key) is None:
        return False
    if isinstance(notice, Recovery):
        if not state.guards.follow_recovery(notice.key):
            return False
        log.info(
            "circuit breaker closed by a sibling's probe",
            namespace=notice.namespace,
            endpoint=notice.path,
        )
        return True
    if not state.guards.follow_trip(notice.key, notice.cooldown_s, time.monotonic()):
        return False
    state.gate.withdraw(notice.key)
    log.info(
        "circuit breaker opened by a sibling",
        namespace=notice.namespace,
        endpoint=notice.path,
        cooldown_s=notice.cooldown_s,
    )
    return True


async def open_host_state(settings: Settings) -> HostState:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    registry = await open_registry(settings.registry_url, settings.data_dir)
    engine = SandboxEngine(
        cache_dir=settings.wasmtime_cache_dir, artifacts_in_memory=settings.artifacts_in_memory
    )
    observer = Observer()
    cache = ModuleCache(
        engine, registry, settings.artifact_dir, settings.cache_bytes, observer.compiled
    )
    gate = FairGate(settings.workers, settings.max_instances)
    sandbox = Sandbox(engine, gate=gate)
    loader = Loader(cache, registry, sandbox.runtimes)
    _watch(observer, cache, loader, gate)
    routes = RouteTable()
    gateway = BackendGateway(settings.catalogue, cache=_response_cache(settings, observer))
    services = LiveCatalogue(settings.catalogue, gateway)
    shedder = LoadShedder(
        max_queue=settings.max_queue,
        latency_budget_ms=settings.queue_latency_budget_ms,
    )
    refresher = RouteRefresher(
        registry,
        routes,
        loader,
        settings.default_quotas,
        services,
        settings.refresh_interval_s,
    )
    notices = TripNotices(settings.process_dir) if settings.process_dir is not None else None
    guards = Guards(
        shedder,
        settings.breaker,
        on_trip=lambda key: _tripped(observer, gate, guards, notices, key),
        on_recover=lambda key: _recovered(notices, key),
        pacer=RefusalPacer(settings.refusal_hold_s, settings.max_held_refusals),
    )
    observer.metrics.watch_gauge(
        observer.metrics.open_breakers, lambda: len(guards.open_breakers())
    )
    observer.metrics.watch_gauge(observer.metrics.held_refusals, lambda: guards.pacer.held)
    return HostState(
        settings=settings,
        registry=registry,
        engine=engine,
        sandbox=sandbox,
        cache=cache,
        loader=loader,
        gateway=gateway,
        services=services,
        routes=routes,
        refresher=refresher,
        tokens=TokenBook.load(settings.tokens_file, settings.admin_token),
        guards=guards,
        gate=gate,
        observer=observer,
        canary_judge=CanaryJudge(
            registry,
            routes,
            observer.canaries,
            # Names this host in canary reports and on the analysis lease.
            holder=f"{socket.gethostname()}:{settings.port}:{uuid.uuid4().hex[:8]}",
            interval_s=settings.canary_interval_s,
            on_decided=refresher.poll_once,
        ),
        trip_notices=notices,
    )


def _watch(observer: Observer, cache: ModuleCache, loader: Loader, gate: FairGate) -> None:
    """Gauges and cache counters are read when Prometheus scrapes (and, in a host of several
    processes, by each process every refresh interval), never on the request path."""
    metrics = observer.metrics
    metrics.watch_cache(lambda: dataclasses.asdict(cache.stats) | dataclasses.asdict(loader.stats))
    metrics.watch_gauge(metrics.queue_depth, lambda: gate.waiting)
    metrics.watch_gauge(metrics.running, lambda: gate.running)
    metrics.watch_gauge(metrics.paused, lambda: gate.paused)


def _response_cache(settings: Settings, observer: Observer) -> ResponseCache | None:
    """The shared cache of backend answers; none when the host gives it no memory."""
    if settings.response_cache_bytes <= 0:
        return None
    cache = ResponseCache(settings.response_cache_bytes)
    observer.metrics.watch_response_cache(lambda: cache.events, cache.bytes_by_service)
    return cache


async def close_host_state(state: HostState) -> None:
    if state.trip_notices is not None:
        await state.trip_notices.close()
    await state.gateway.aclose()
    state.sandbox.close()
    state.engine.close()
    await state.registry.close()
