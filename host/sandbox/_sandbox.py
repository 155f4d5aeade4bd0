"""The sandbox: compiled modules in, one isolated run per request out."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import wasmtime
from wasmtime import component as wc

from host.abi import RequestContext
from host.sandbox._component import ComponentRunner
from host.sandbox._engine import CompiledModule, SandboxEngine
from host.sandbox._javy import JavyRunner
from host.sandbox._runtime import RuntimeRunner, ScriptOnRuntime
from host.sandbox._types import RunResult, ScriptRequest


class Sandbox:
    """Runs requests on worker threads so the event loop never waits on wasm.

    wasmtime releases the GIL while guest code runs, so workers execute wasm
    in parallel; backend calls a guest makes hop back onto the event loop.
    """

    def __init__(self, engine: SandboxEngine, workers: int = 4) -> None:
        self.engine = engine
        self._components = ComponentRunner(engine.engine)
        self._javy = JavyRunner(engine.core_engine)
        self.runtimes = RuntimeRunner(engine.engine, self._components)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sandbox")
        self._lock = threading.Lock()
        self._in_flight = 0
        self.workers = workers

    @property
    def in_flight(self) -> int:
        """Runs queued or executing: the depth load shedding looks at."""
        return self._in_flight

    def run_sync(
        self, module: CompiledModule, request: ScriptRequest, context: RequestContext
    ) -> RunResult:
        if isinstance(module.code, wc.Component):
            return self._components.run(module.code, request, context)
        if isinstance(module.code, ScriptOnRuntime):
            return self.runtimes.run(module.code, request, context)
        assert isinstance(module.code, wasmtime.Module)
        return self._javy.run(module.code, request, context)

    async def run(
        self, module: CompiledModule, request: ScriptRequest, context: RequestContext
    ) -> RunResult:
        if context.loop is None:
            context.loop = asyncio.get_running_loop()
        self._track(+1)
        try:
            return await context.loop.run_in_executor(
                self._pool, self.run_sync, module, request, context
            )
        finally:
            self._track(-1)

    def _track(self, delta: int) -> None:
        with self._lock:
            self._in_flight += delta

    def close(self) -> None:
        self._pool.shutdown(wait=True)
