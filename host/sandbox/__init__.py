"""Run scripts in wasmtime sandboxes: fuel, memory and wall-clock limits, one Store per request.

The sandbox owns its vocabulary: the host side of the ABI (what a running
script may reach, `RequestContext`) and what an upload must be to run here
(`check_module`).
"""

from host.failures import FailureClass, SandboxAbort, classify_trap
from host.limits import Limits, MiB
from host.sandbox._abi import ABI_VERSION, BackendPort, RequestContext
from host.sandbox._bundle import (
    Bundle,
    InvalidBundle,
    RuntimeRef,
    UnsupportedBundle,
    parse_bundle,
)
from host.sandbox._compiler import CompileLimits, IsolatedCompiler
from host.sandbox._engine import (
    CompiledModule,
    ModuleKind,
    SandboxEngine,
    module_hash,
    module_kind,
)
from host.sandbox._errors import InsufficientStorage, InvalidModule, ModuleRejected
from host.sandbox._runtime import (
    BundleRejected,
    RuntimeRejected,
    ScriptOnRuntime,
    check_runtime,
    on_runtime,
)
from host.sandbox._sandbox import Sandbox
from host.sandbox._types import RunResult, ScriptRequest, ScriptResponse
from host.sandbox._validation import check_module

__all__ = [
    "ABI_VERSION",
    "BackendPort",
    "Bundle",
    "BundleRejected",
    "CompileLimits",
    "CompiledModule",
    "FailureClass",
    "InsufficientStorage",
    "InvalidBundle",
    "InvalidModule",
    "IsolatedCompiler",
    "Limits",
    "MiB",
    "ModuleKind",
    "ModuleRejected",
    "RequestContext",
    "RunResult",
    "RuntimeRef",
    "RuntimeRejected",
    "Sandbox",
    "SandboxAbort",
    "SandboxEngine",
    "ScriptOnRuntime",
    "ScriptRequest",
    "ScriptResponse",
    "UnsupportedBundle",
    "check_module",
    "check_runtime",
    "classify_trap",
    "module_hash",
    "module_kind",
    "on_runtime",
    "parse_bundle",
]
