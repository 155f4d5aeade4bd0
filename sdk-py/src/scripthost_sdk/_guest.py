"""The component side: binds the SDK to the `wit_world` bindings componentize-py generates.

Imported only by the entry module `scripthost_sdk.build` generates, inside the
component (the bindings do not exist on the host). `load_world` runs at build time,
when componentize-py pre-initialises the component: everything imported then is in
the component; nothing can be imported later.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any, NoReturn

from componentize_py_types import Err, Ok  # type: ignore[import-not-found]
from wit_world.imports import backend, config, log, types  # type: ignore[import-not-found]

from scripthost_sdk import _abi, _heap, _immortal, _reseed, _runtime, _stdio, _traceback
from scripthost_sdk._http import Request
from scripthost_sdk.backend import BackendError, BackendErrorKind, BackendRequest, BackendResponse

_ERROR_KINDS: dict[type[Any], BackendErrorKind] = {
    backend.BackendError_UnknownService: "unknown-service",
    backend.BackendError_NotAllowed: "not-allowed",
    backend.BackendError_Timeout: "timeout",
    backend.BackendError_Unavailable: "unavailable",
    backend.BackendError_QuotaExceeded: "quota-exceeded",
    backend.BackendError_BadResponse: "bad-response",
}

_LOG_LEVELS: dict[_abi.LogLevel, Any] = {
    "debug": log.Level.DEBUG,
    "info": log.Level.INFO,
    "warn": log.Level.WARN,
    "error": log.Level.ERROR,
}

_GUEST_ERROR_KINDS: dict[_runtime.GuestErrorKind, Any] = {
    "exception": types.GuestErrorKind.EXCEPTION,
    "stack-overflow": types.GuestErrorKind.STACK_OVERFLOW,
    "out-of-memory": types.GuestErrorKind.OUT_OF_MEMORY,
}


def to_wit_request(call: BackendRequest) -> Any:
    return backend.BackendRequest(
        service=call.service,
        method=call.method,
        path=call.path,
        headers=list(call.headers),
        body=call.body,
        timeout_ms=call.timeout_ms,
    )


def from_wit_response(raw: Any) -> BackendResponse:
    return BackendResponse(status=raw.status, headers=list(raw.headers), body=bytes(raw.body))


def from_wit_error(raw: Any) -> BackendError:
    return BackendError(_ERROR_KINDS.get(type(raw), "bad-response"), str(raw.value))


def from_batch_result(result: Any) -> BackendResponse | BackendError:
    if isinstance(result, Ok):
        return from_wit_response(result.value)
    return from_wit_error(result.value)


class WitAbi:
    """`_abi.Abi` over the component's real imports."""

    def backend_call(self, request: BackendRequest) -> BackendResponse | BackendError:
        try:
            return from_wit_response(backend.call(to_wit_request(request)))
        except Err as err:
            return from_wit_error(err.value)

    def backend_call_batch(
        self, requests: Sequence[BackendRequest]
    ) -> list[BackendResponse | BackendError]:
        results = backend.call_batch([to_wit_request(call) for call in requests])
        return [from_batch_result(result) for result in results]

    def log_write(self, level: _abi.LogLevel, message: str, fields: _abi.LogFields) -> None:
        log.write(_LOG_LEVELS[level], message, list(fields))

    def config_get(self, key: str) -> str | None:
        value = config.get(key)
        return None if value is None else str(value)

    def config_get_all(self) -> list[tuple[str, str]]:
        return [(str(key), str(value)) for key, value in config.get_all()]


class BuildTimeAbi:
    """Installed while the script is imported, which happens at build time."""

    def _refuse(self) -> NoReturn:
        raise _abi.NoHostError(
            "the script called the host while being imported: top-level code runs at "
            "build time, when there is no host; call backend/config/log inside handle()"
        )

    def backend_call(self, request: BackendRequest) -> BackendResponse | BackendError:
        self._refuse()

    def backend_call_batch(
        self, requests: Sequence[BackendRequest]
    ) -> list[BackendResponse | BackendError]:
        self._refuse()

    def log_write(self, level: _abi.LogLevel, message: str, fields: _abi.LogFields) -> None:
        self._refuse()

    def config_get(self, key: str) -> str | None:
        self._refuse()

    def config_get_all(self) -> list[tuple[str, str]]:
        self._refuse()


def to_request(raw: Any) -> Request:
    return Request(
        method=raw.method,
        path=raw.path,
        query=raw.query,
        headers=list(raw.headers),
        body=bytes(raw.body),
        endpoint=raw.endpoint,
        version=raw.version,
        request_id=raw.request_id,
    )


def guest_error(kind: _runtime.GuestErrorKind, message: str) -> Err:
    return Err(types.GuestError(kind=_GUEST_ERROR_KINDS[kind], message=message))


def handle_raw(handler: _runtime.Handler, raw: Any) -> Any:
    """The export: raw request in, raw response out, or `Err(guest-error)` raised."""
    # Armed here, not at load time: componentize-py itself still imports modules after that.
    _runtime.forbid_imports_from_now_on()
    _stdio.redirect_to_log()
    _reseed.seed_before_next_draw(raw.request_id)
    try:
        outcome = _runtime.serve(handler, to_request(raw))
    finally:
        _stdio.flush_log_streams()
    if isinstance(outcome, _runtime.GuestFailure):
        raise guest_error(outcome.kind, outcome.message)
    return types.Response(status=outcome.status, headers=outcome.headers, body=outcome.body)


def fail_build(message: str) -> NoReturn:
    """Stop the build with one line `scripthost_sdk.build` picks out of the output."""
    print(f"{_runtime.BUILD_ERROR_MARKER} {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def import_script(module_name: str) -> ModuleType:
    try:
        return __import__(module_name)
    except SyntaxError as exc:
        where = f"{os.path.basename(exc.filename or module_name)}, line {exc.lineno}"
        fail_build(f"{where}: SyntaxError: {exc.msg}")
    except BaseException as exc:
        fail_build(innermost_location(exc))


def innermost_location(exc: BaseException) -> str:
    """`file.py, line N: ExcType: message`, at the innermost frame outside the SDK."""
    sdk_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "")
    where = ""
    tb = exc.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if not filename.startswith(sdk_dir):
            where = f"{_traceback.display_name(filename)}, line {tb.tb_lineno}: "
        tb = tb.tb_next
    return where + _traceback.exception_line(exc)


def remember_sources_under(directories: Sequence[str]) -> None:
    """Keep the source of every loaded module from `directories`, for tracebacks."""
    prefixes = tuple(os.path.join(directory, "") for directory in directories)
    for module in list(sys.modules.values()):
        filename = getattr(module, "__file__", None)
        if isinstance(filename, str) and filename.startswith(prefixes):
            _traceback.remember_source(filename)


def load_world(module_name: str) -> type:
    """Import the script and return the `WitWorld` class componentize-py instantiates."""
    _abi.install(BuildTimeAbi())
    _reseed.install()
    script = import_script(module_name)
    _abi.install(WitAbi())
    try:
        handler = _runtime.find_handler(script)
    except ValueError:
        fail_build(f"{module_name}.py defines no handle(req) function")
    script_dir = os.path.dirname(script.__file__ or "")
    sdk_dir = os.path.dirname(os.path.abspath(__file__))
    remember_sources_under([script_dir, sdk_dir])
    _runtime.warm_up()
    _runtime.install_import_refusal()
    _immortal.record_objects()
    _heap.pack()
    # Everything so far lives in the snapshot: the collector need never visit it.
    gc.freeze()

    class WitWorld:
        def handle(self, req: Any) -> Any:
            try:
                return handle_raw(handler, req)
            except Err:
                raise
            except BaseException as exc:  # a bug in the SDK itself; never abort the instance
                raise guest_error("exception", f"scripthost_sdk internal error: {exc!r}") from None

    return WitWorld
