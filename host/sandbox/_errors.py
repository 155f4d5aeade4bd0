"""Why a module is refused, or could not be kept."""

from __future__ import annotations


class InvalidModule(ValueError):
    """Bytes that are not a wasm component or core module wasmtime can compile."""


class ModuleRejected(ValueError):
    """The module is valid wasm but not something this host will run."""


class InsufficientStorage(OSError):
    """The disk is full (or the file too large for it): nothing was kept, nothing partial left."""

    status = 507
    code = "insufficient_storage"
