"""Scripts as bundles on the shared runtimes, ready for the sandbox, as a host makes them."""

from __future__ import annotations

from wasmtime import component as wc

from host.sandbox import ABI_VERSION, CompiledModule, Sandbox, on_runtime, parse_bundle


def prepared(sandbox: Sandbox, runtimes: dict[str, CompiledModule], data: bytes) -> CompiledModule:
    """A bundle prepared by its runtime (which must be the one it names) and ready to run."""
    bundle = parse_bundle(data, ABI_VERSION)
    runtime = runtimes[bundle.runtime.language]
    assert runtime.module_hash == bundle.runtime.sha256, "the bundle names another runtime"
    assert isinstance(runtime.code, wc.Component)
    return on_runtime(runtime, bundle, sandbox.runtimes.prepare(runtime.code, bundle.payload))
