"""The Python runtime: the `runtime` world over CPython and the SDK, shared by every script.

Imported only by the entry module `scripthost_sdk.build --runtime` generates.
`load_world` runs when componentize-py pre-initialises the runtime: it imports
the standard library modules scripts may use (nothing can be imported later),
so they are in the snapshot every instance starts from. In an instance,
`prepare` compiles a deployed bundle (see `_script`), and the first `handle`
loads the prepared modules the host hands over, then serves like a component.
"""

from __future__ import annotations

import gc
import importlib
import sys
from typing import Any

from componentize_py_types import Err  # type: ignore[import-not-found]
from wit_world.imports import script  # type: ignore[import-not-found]

from scripthost_sdk import _abi, _guest, _heap, _immortal, _reseed, _runtime, _script, _traceback
from scripthost_sdk._http import Request, Response

# This module and `_script` load the script: their frames are not the author's.
_LOADER_FILES = (_script.__file__ or "_script.py", __file__)

_handler: _runtime.Handler | None = None
# While a bundle is compiled, opening a file is refused instead of trapping:
# CPython reads a file for the text of a SyntaxError, and the runtime has no
# filesystem (every attempt would end the instance). Outside `prepare` an
# attempt traps as in any component, and is reported as an ABI violation.
_refusing_files = False


def refuse_files_while_preparing(event: str, args: tuple[object, ...]) -> None:
    if _refusing_files and event == "open":
        raise PermissionError("the runtime has no filesystem")


def handle_with_script(request: Request) -> Response:
    """The script's `handle`, after loading the bundle on first use in this instance."""
    global _handler
    if _handler is None:
        _handler = _runtime.find_handler(_script.load(script.prepared()))
    return _handler(request)


def is_loader_frame(filename: str) -> bool:
    return filename.startswith("<frozen importlib") or filename in _LOADER_FILES


def bundle_sources() -> dict[str, list[str]]:
    return _script.source_lines(script.bundle())


def load_world() -> type:
    _reseed.install()
    for name in _script.RUNTIME_MODULES:
        importlib.import_module(name)
    _abi.install(_guest.WitAbi())
    _traceback.hide_frames_of(is_loader_frame)
    _traceback.remember_sources_from(bundle_sources)
    _runtime.warm_up()
    _runtime.install_import_refusal()
    _immortal.record_objects()
    _heap.pack()
    # Everything so far lives in the snapshot: the collector need never visit it.
    gc.freeze()

    class WitWorld:
        def handle(self, req: Any) -> Any:
            try:
                return _guest.handle_raw(handle_with_script, req)
            except Err:
                raise
            except BaseException as exc:  # a bug in the SDK itself; never abort the instance
                raise _guest.guest_error(
                    "exception", f"scripthost_sdk internal error: {exc!r}"
                ) from None

        def prepare(self, payload: str) -> str:
            global _refusing_files
            # Hooked here, not at build time: every Python audit event would
            # call the hook, in every instance that serves a request.
            sys.addaudithook(refuse_files_while_preparing)
            _refusing_files = True
            try:
                return _script.prepare(payload, lambda name: name in sys.modules)
            except _script.BundleRejected as rejected:
                raise Err(str(rejected)) from None
            except BaseException as exc:
                raise Err(f"the runtime could not prepare the bundle: {exc!r}") from None
            finally:
                _refusing_files = False

    return WitWorld
