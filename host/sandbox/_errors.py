"""Why a module is refused, or could not be kept: each error names its own HTTP answer."""

from __future__ import annotations

from host.errors import HostError


class InvalidModule(HostError, ValueError):
    """Bytes that are not a wasm component or core module wasmtime can compile."""

    status = 422
    code = "invalid_module"


class ModuleRejected(HostError, ValueError):
    """The module is valid wasm but not something this host will run."""

    status = 422
    code = "module_rejected"


class InsufficientStorage(HostError, OSError):
    """The disk is full (or the file too large for it): nothing was kept, nothing partial left."""

    status = 507
    code = "insufficient_storage"
