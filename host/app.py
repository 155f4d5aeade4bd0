"""The Quart application: wires settings, registry, sandbox, cache and routes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from quart import Quart, Response, jsonify, redirect, send_from_directory
from quart_schema import QuartSchema, RequestSchemaValidationError, hide
from werkzeug.exceptions import HTTPException

from host.admin import admin_api
from host.admin._auth import Forbidden, Unauthorized
from host.admin._paths import RESERVED_NAMESPACES, BadEndpointName
from host.admin._quotas import BadQuota
from host.admin._uploads import BadLanguage, QuotaExceeded, UploadTooLarge
from host.auth import TokenBook
from host.backends import BackendGateway
from host.cache import ModuleCache
from host.device import serve_device_request
from host.loader import Loader
from host.logs import configure_logging, get_logger
from host.observe import Observer
from host.protect import FairGate, Guards, LoadShedder
from host.routing import RouteRefresher, RouteTable
from host.sandbox import InvalidModule, Sandbox, SandboxEngine
from host.settings import Settings
from host.state import STATE_KEY, HostState, host_state
from host.validation import ModuleRejected
from host.wire import json_error
from registry import Conflict, CorruptBlob, NotFound, RegistryUnavailable, open_registry

log = get_logger("scripthost.app")
CONSOLE_DIR = Path(__file__).parent / "console"
_ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# Multipart framing around the largest module a deploy may upload.
_MULTIPART_OVERHEAD = 1 << 20


def create_app(settings: Settings) -> Quart:
    configure_logging(settings.log_format)
    app = Quart("scripthost")
    app.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes * 2 + _MULTIPART_OVERHEAD
    QuartSchema(
        app,
        openapi_path="/admin/v1/openapi.json",
        redoc_ui_path=None,
        scalar_ui_path=None,
        swagger_ui_path="/admin/v1/docs",
        info={"title": "scripthost management API", "version": "v1"},
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        security=[{"bearer": []}],
    )
    app.register_blueprint(admin_api)
    _register_probes(app)
    _register_metrics(app)
    _register_console(app)
    _register_device_path(app)
    _register_error_handlers(app)
    _register_lifecycle(app, settings)
    return app


def _register_metrics(app: Quart) -> None:
    @app.get("/metrics")
    @hide
    async def metrics() -> Response:
        state = host_state()
        state.observer.metrics.open_breakers.set(len(state.guards.open_breakers()))
        body = generate_latest(state.observer.metrics.registry)
        return Response(body, content_type=CONTENT_TYPE_LATEST)


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


def _register_device_path(app: Quart) -> None:
    @app.route("/<namespace>/<path:rest>", methods=_ANY_METHOD)
    @app.route("/<namespace>", defaults={"rest": ""}, methods=_ANY_METHOD)
    @hide
    async def device(namespace: str, rest: str) -> Response:
        if namespace in RESERVED_NAMESPACES:
            return json_error(404, "not_found", "no such route")
        return await serve_device_request(namespace, rest)


def _register_error_handlers(app: Quart) -> None:
    def handler(status: int, code: str) -> object:
        async def handle(error: Exception) -> Response:
            response = json_error(status, code, str(error) or code)
            if status == 401:
                response.headers["WWW-Authenticate"] = "Bearer"
            return response

        return handle

    for error_type, status, code in (
        (NotFound, 404, "not_found"),
        (Conflict, 409, "conflict"),
        (BadEndpointName, 400, "bad_endpoint_name"),
        (BadLanguage, 400, "bad_language"),
        (Unauthorized, 401, "unauthorized"),
        (Forbidden, 403, "forbidden"),
        (UploadTooLarge, 413, "too_large"),
        (BadQuota, 400, "bad_quota"),
        (QuotaExceeded, 403, "quota_exceeded"),
        (InvalidModule, 422, "invalid_module"),
        (ModuleRejected, 422, "module_rejected"),
        (RegistryUnavailable, 503, "registry_unavailable"),
        (CorruptBlob, 500, "corrupt_blob"),
    ):
        app.register_error_handler(error_type, handler(status, code))  # type: ignore[arg-type]

    @app.errorhandler(RequestSchemaValidationError)
    async def bad_request(error: RequestSchemaValidationError) -> Response:
        return json_error(400, "bad_request", str(error.validation_error))

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        code = (error.name or "error").lower().replace(" ", "_")
        return json_error(error.code or 500, code, error.description or code)

    @app.errorhandler(Exception)
    async def unexpected(error: Exception) -> Response:
        log.exception("unhandled error", error=repr(error))
        return json_error(500, "host_error", "the host failed to handle this request")


def _register_lifecycle(app: Quart, settings: Settings) -> None:
    @app.before_serving
    async def start() -> None:
        state = await open_host_state(settings)
        app.extensions[STATE_KEY] = state
        await state.refresher.load_all()
        app.extensions["scripthost.refresh_task"] = asyncio.create_task(state.refresher.run())
        log.info("host ready", endpoints=len(state.routes), fingerprint=state.engine.fingerprint)

    @app.after_serving
    async def stop() -> None:
        task: asyncio.Task[None] = app.extensions.pop("scripthost.refresh_task")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await close_host_state(app.extensions.pop(STATE_KEY))


async def open_host_state(settings: Settings) -> HostState:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    registry = await open_registry(settings.registry_url, settings.data_dir)
    engine = SandboxEngine(cache_dir=settings.wasmtime_cache_dir)
    observer = Observer()
    cache = ModuleCache(
        engine, registry, settings.artifact_dir, settings.cache_capacity, observer.compiled
    )
    gate = FairGate(settings.workers)
    sandbox = Sandbox(engine, workers=settings.workers)
    loader = Loader(cache, registry, sandbox.runtimes)
    _watch(observer, cache, loader, gate)
    routes = RouteTable()
    shedder = LoadShedder(
        max_queue=settings.max_queue,
        latency_budget_ms=settings.queue_latency_budget_ms,
    )
    return HostState(
        settings=settings,
        registry=registry,
        engine=engine,
        sandbox=sandbox,
        cache=cache,
        loader=loader,
        gateway=BackendGateway(settings.catalogue),
        routes=routes,
        refresher=RouteRefresher(
            registry,
            routes,
            loader,
            settings.default_quotas,
            settings.catalogue,
            settings.refresh_interval_s,
        ),
        tokens=TokenBook.load(settings.tokens_file, settings.admin_token),
        guards=Guards(shedder, settings.breaker, on_trip=observer.breaker_tripped),
        gate=gate,
        observer=observer,
    )


def _watch(observer: Observer, cache: ModuleCache, loader: Loader, gate: FairGate) -> None:
    """Gauges and cache counters are read when Prometheus scrapes, never pushed."""
    metrics = observer.metrics
    metrics.watch_cache(lambda: dataclasses.asdict(cache.stats) | dataclasses.asdict(loader.stats))
    metrics.queue_depth.set_function(lambda: gate.waiting)
    metrics.running.set_function(lambda: gate.running)


async def close_host_state(state: HostState) -> None:
    await state.gateway.aclose()
    state.sandbox.close()
    state.engine.close()
    await state.registry.close()
