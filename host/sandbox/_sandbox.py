"""The sandbox: compiled modules in, one isolated run per request out."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Hashable
from typing import Any, Protocol

from host.protect import FairGate
from host.sandbox._abi import RequestContext
from host.sandbox._component import ComponentRunner
from host.sandbox._engine import CompiledModule, ModuleKind, SandboxEngine
from host.sandbox._javy import JavyRunner
from host.sandbox._runtime import RuntimeRunner
from host.sandbox._slot import GateSlot
from host.sandbox._types import RunResult, ScriptRequest
from host.sandbox._workers import Workers


class Runner(Protocol):
    """Runs one request through a module's code, in a fresh Store (see _store.new_store)."""

    def run(self, code: Any, request: ScriptRequest, context: RequestContext, /) -> RunResult: ...


class Sandbox:
    """Runs requests on worker threads so the event loop never waits on wasm.

    wasmtime releases the GIL while guest code runs, so workers execute wasm
    in parallel; backend calls a guest makes hop back onto the event loop.
    With a fair gate, a run holds one of its CPU slots while it runs (and not
    while it waits on a backend), and there is a thread for every run the
    gate lets be alive at once.
    """

    def __init__(
        self, engine: SandboxEngine, workers: int = 4, gate: FairGate | None = None
    ) -> None:
        self.engine = engine
        self._components = ComponentRunner(engine.engine)
        self._javy = JavyRunner(engine.core_engine)
        self.runtimes = RuntimeRunner(engine.engine, self._components)
        # A module's kind fixes its code's type, the one its runner takes.
        self._runners: dict[ModuleKind, Runner] = {
            ModuleKind.COMPONENT: self._components,
            ModuleKind.BUNDLE: self.runtimes,
            ModuleKind.JAVY: self._javy,
        }
        self._gate = gate
        self.workers = gate.capacity if gate is not None else workers
        self._pool = Workers(self.workers, "sandbox")

    def run_sync(
        self, module: CompiledModule, request: ScriptRequest, context: RequestContext
    ) -> RunResult:
        return self._runners[module.kind].run(module.code, request, context)

    async def run(
        self,
        module: CompiledModule,
        request: ScriptRequest,
        context: RequestContext,
        key: Hashable | None = None,
    ) -> RunResult:
        """Run on a worker thread; with a gate, in a fairly shared slot of endpoint `key`."""
        loop = context.loop = context.loop or asyncio.get_running_loop()
        run = functools.partial(self.run_sync, module, request, context)
        if self._gate is None or key is None:
            return await self._pool.submit(run)
        await self._gate.acquire(key)
        # The wall-clock quota counts from the slot, not from the queue before it.
        context.deadline = time.monotonic() + context.limits.timeout_ms / 1000
        slot = context.slot = GateSlot(self._gate, key, loop)
        running = self._pool.submit(run)
        try:
            result = await asyncio.shield(running)
        except asyncio.CancelledError:
            # The script runs on to its end regardless; so does its hold on the gate.
            running.add_done_callback(lambda _: slot.end())
            raise
        except BaseException:
            slot.end()
            raise
        slot.end()
        return result

    def close(self) -> None:
        self._pool.close()
