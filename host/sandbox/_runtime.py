"""Shared language runtimes: one compiled engine runs every script bundled for it.

A runtime is a component of the ABI's `runtime` world (abi/README.md#runtimes):
the language engine and its SDK, with no script. It serves `handle` like any
endpoint component, taking the script from the host through the `script`
import, so a request to a bundle is a request to its runtime with the
bundle in the request's context: the same fresh Store, limits, failure
classes and instance reuse as a component (a reused instance is kept per
endpoint version, so it never serves another script). The runtime's other
export, `prepare`, runs once per bundle at deploy: it checks that the bundle
compiles there and returns what every later instance gets back from
`script.prepared` (Python: bytecode, which only the runtime's own CPython
can make).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import wasmtime
from wasmtime import component as wc

from host.errors import HostError
from host.limits import Limits, MiB
from host.sandbox import _abi as abi
from host.sandbox import _wasi as wasi
from host.sandbox._abi import RequestContext, ScriptSource
from host.sandbox._bundle import Bundle
from host.sandbox._component import ComponentRunner, component_linker
from host.sandbox._engine import CompiledModule, ModuleKind
from host.sandbox._outcome import Meter, from_exception
from host.sandbox._store import new_store
from host.sandbox._types import RunResult, ScriptRequest

# What `prepare` may use: a deploy compiles a whole bundle (a 40 KB Python
# bundle costs ~250 M fuel), once, so it gets more than a request.
PREPARE_LIMITS = Limits(fuel=20_000_000_000, memory_bytes=256 * MiB, timeout_ms=60_000)
_PREPARE_ERROR_LIMIT = 2000
# A runtime imports the ABI of this host's 0.1 line, `script` included.
_RUNTIME_IMPORT = re.compile(r"^scripthost:abi/(types|backend|log|config|script)@0\.1\.(\d+)$")


@dataclass(frozen=True, slots=True)
class ScriptOnRuntime:
    """A bundle ready to run: its runtime's compiled component and what it hands over."""

    runtime: wc.Component
    runtime_hash: str
    script: ScriptSource

    @property
    def size(self) -> int:
        """Bytes this script holds besides its (shared) runtime."""
        return len(self.script.payload) + len(self.script.prepared)


def on_runtime(runtime: CompiledModule, bundle: Bundle, prepared: str) -> CompiledModule:
    """The module that serves a bundle: its runtime, with the bundle to hand over."""
    assert isinstance(runtime.code, wc.Component)
    script = ScriptSource(bundle.payload, prepared)
    code = ScriptOnRuntime(runtime.code, runtime.module_hash, script)
    return CompiledModule(ModuleKind.BUNDLE, code, bundle.bundle_hash)


class RuntimeRejected(HostError, ValueError):
    """A component that is not a runtime this host can run bundles on."""

    status = 422
    code = "not_a_runtime"


class BundleRejected(HostError, ValueError):
    """The runtime would not prepare the bundle; the message is the runtime's own."""

    status = 422
    code = "bundle_rejected"


def check_runtime(component: wc.Component, engine: wasmtime.Engine) -> None:
    """Raise RuntimeRejected unless `component` is a runtime of this host's ABI."""
    kind = component.type
    imports = list(kind.imports(engine))
    provided = int(abi.ABI_VERSION.rsplit(".", 1)[1])
    refused = [
        name
        for name in imports
        if not ((found := _RUNTIME_IMPORT.match(name)) and int(found.group(2)) <= provided)
    ]
    if refused:
        raise RuntimeRejected(
            "a runtime may import only the scripthost ABI up to "
            f"{abi.ABI_VERSION}; this one imports " + ", ".join(sorted(refused))
        )
    exports = set(kind.exports(engine))
    if not any(name.startswith("scripthost:abi/script@") for name in imports):
        raise RuntimeRejected("a runtime imports the `script` interface; this component does not")
    if not {"handle", "prepare"} <= exports:
        raise RuntimeRejected("a runtime exports `handle` and `prepare` (world `runtime`)")


class RuntimeRunner:
    """Runs bundles on their runtimes, and prepares bundles at deploy."""

    def __init__(self, engine: wasmtime.Engine, components: ComponentRunner) -> None:
        self.engine = engine
        self._components = components
        self._linker = component_linker(engine)

    def run(
        self, script: ScriptOnRuntime, request: ScriptRequest, context: RequestContext
    ) -> RunResult:
        context.script = script.script
        return self._components.run(script.runtime, request, context)

    def prepare(self, runtime: wc.Component, payload: str, endpoint: str = "") -> str:
        """What `runtime` makes of a bundle's payload; BundleRejected when it refuses it."""
        context = RequestContext(
            request_id="prepare",
            endpoint=endpoint,
            version="",
            limits=PREPARE_LIMITS,
            deadline=time.monotonic() + PREPARE_LIMITS.timeout_ms / 1000,
        )
        store = new_store(self.engine, PREPARE_LIMITS)
        try:
            with abi.bound(context), wasi.bound(wasi.WasiState()):
                instance = self._linker.instantiate(store, runtime)
                prepare = instance.get_func(store, "prepare")
                if prepare is None:
                    raise BundleRejected("the runtime does not export `prepare`")
                returned = prepare(store, payload)
                prepare.post_return(store)
        except BundleRejected:
            raise
        except Exception as error:
            meter = Meter(fuel_limit=PREPARE_LIMITS.fuel, started=time.monotonic())
            failure = from_exception(context, meter, error)
            raise BundleRejected(
                f"the runtime failed while preparing the bundle: {failure.outcome}: "
                f"{failure.failure_message}"
            ) from None
        finally:
            store.close()
        if returned.tag == "err":
            raise BundleRejected(str(returned.payload)[:_PREPARE_ERROR_LIMIT])
        return str(returned.payload)
