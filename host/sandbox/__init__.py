"""Run scripts in wasmtime sandboxes: fuel, memory and wall-clock limits, one Store per request."""

from host.failures import FailureClass, SandboxAbort, classify_trap
from host.limits import Limits, MiB
from host.sandbox._compiler import CompileLimits, IsolatedCompiler
from host.sandbox._engine import (
    CompiledModule,
    ModuleKind,
    SandboxEngine,
    module_hash,
    module_kind,
)
from host.sandbox._errors import InsufficientStorage, InvalidModule, ModuleRejected
from host.sandbox._sandbox import Sandbox
from host.sandbox._types import RunResult, ScriptRequest, ScriptResponse

__all__ = [
    "CompileLimits",
    "CompiledModule",
    "FailureClass",
    "InsufficientStorage",
    "InvalidModule",
    "IsolatedCompiler",
    "Limits",
    "MiB",
    "ModuleKind",
    "ModuleRejected",
    "RunResult",
    "Sandbox",
    "SandboxAbort",
    "SandboxEngine",
    "ScriptRequest",
    "ScriptResponse",
    "classify_trap",
    "module_hash",
    "module_kind",
]
