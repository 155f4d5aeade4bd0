"""Run a script's `handle` and turn whatever happens into a response or a guest error.

Nothing may escape from here: inside a component an exception that reaches the
generated bindings aborts the instance instead of returning the ABI's `guest-error`.
Pure Python, importable on the host, so it is unit-tested there.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Literal, cast

from scripthost_sdk._http import Request, Response, json_response
from scripthost_sdk._traceback import exception_line, format_exception

BUILD_ERROR_MARKER = "scripthost-build-error:"
"""Prefix of the one line the entry module prints when the script cannot be loaded."""

GuestErrorKind = Literal["exception", "stack-overflow", "out-of-memory"]
Handler = Callable[[Request], Response]

_U16_MAX = 0xFFFF
# Preallocated: after a MemoryError even building a message may fail.
_OUT_OF_MEMORY_FALLBACK = "MemoryError (no memory left to format the traceback)"


@dataclass(frozen=True)
class GuestFailure:
    """What the ABI's `guest-error` carries."""

    kind: GuestErrorKind
    message: str


def serve(handler: Handler, request: Request) -> Response | GuestFailure:
    """Call `handler`; an exception becomes a `GuestFailure` with its traceback."""
    try:
        result = handler(request)
    except MemoryError as exc:
        return out_of_memory_failure(exc)
    except RecursionError as exc:
        return GuestFailure("stack-overflow", describe(exc))
    except BaseException as exc:
        return GuestFailure("exception", describe(exc))
    try:
        return normalise_response(result)
    except Exception as exc:
        # The script's mistake, but the SDK's frames would only hide it.
        return GuestFailure("exception", exception_line(exc))


def warm_up() -> None:
    """Run the SDK's side of a request once, at build time, before the snapshot.

    Every instance starts from that snapshot, so what this path fills in
    lazily (above all the subclass caches of the ABCs its `isinstance`
    checks consult) is already there, instead of being rebuilt, and its pages
    written, in every request. The script's own `handle` is not called: at
    build time it could reach for a host that is not there.
    """
    for headers in ({"x-warm": "1"}, [("x-warm", "1")], None):
        normalise_response(json_response({"warm": [1, 2.5, None, True, "é"]}, headers=headers))
    normalise_response(Response(200, {"x-warm": "1"}, "text"))  # type: ignore[arg-type]
    request = Request(
        query="a=1&b=%C3%A9+x", headers=[("x-warm", "1")], body=b'{"warm": [1, "\\u00e9"]}'
    )
    serve(lambda request: json_response([request.params, request.json()]), request)


def describe(exc: BaseException) -> str:
    """The traceback of `exc` from the script's frame on (this module's frame skipped)."""
    try:
        return format_exception(exc, skip_frames=1)
    except Exception:
        return f"{type(exc).__name__} (formatting the traceback failed)"


def out_of_memory_failure(exc: MemoryError) -> GuestFailure:
    # The traceback keeps every frame's locals alive, including whatever filled the
    # memory; clear them so formatting has room to allocate.
    traceback.clear_frames(exc.__traceback__)
    try:
        return GuestFailure("out-of-memory", describe(exc))
    except MemoryError:
        return GuestFailure("out-of-memory", _OUT_OF_MEMORY_FALLBACK)


def normalise_response(result: object) -> Response:
    """Check what `handle` returned and coerce it to exactly what the ABI can carry.

    Values the ABI cannot represent at all raise TypeError/ValueError here (they would
    abort the instance while being lowered); statuses outside 100-599 and invalid
    header text are left for the host to judge.
    """
    if not isinstance(result, Response):
        raise TypeError(
            f"handle() must return a scripthost_sdk.Response, not {type(result).__name__}"
        )
    return Response(status_of(result.status), headers_of(result.headers), body_of(result.body))


def status_of(status: object) -> int:
    if isinstance(status, bool) or not isinstance(status, int):
        raise TypeError(f"Response.status must be an int, not {type(status).__name__}")
    if not 0 <= status <= _U16_MAX:
        raise ValueError(f"Response.status {status} is not an HTTP status")
    return status


def headers_of(headers: object) -> list[tuple[str, str]]:
    if isinstance(headers, dict):
        headers = list(headers.items())
    if not isinstance(headers, Sequence) or isinstance(headers, str | bytes):
        raise TypeError("Response.headers must be a list of (name, value) string pairs")
    pairs: list[tuple[str, str]] = []
    for item in headers:
        if not (isinstance(item, tuple | list) and len(item) == 2):
            raise TypeError(f"Response.headers item {item!r} is not a (name, value) pair")
        name, value = item
        if not (isinstance(name, str) and isinstance(value, str)):
            raise TypeError(f"Response.headers item {item!r} must hold two strings")
        pairs.append((name.lower(), value))
    return pairs


def body_of(body: object) -> bytes:
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, bytes | bytearray | memoryview):
        return bytes(body)
    raise TypeError(f"Response.body must be bytes, not {type(body).__name__}")


def find_handler(module: ModuleType) -> Handler:
    """The module's `handle` function; ValueError when it has none."""
    handler = getattr(module, "handle", None)
    if not callable(handler):
        raise ValueError("the script defines no handle(req) function")
    return cast(Handler, handler)


class NoImportsAtRequestTime(importlib.abc.MetaPathFinder):
    """Refuse imports of modules the component does not already hold, once armed.

    Loading a module needs the filesystem, which a component does not have at run
    time (the attempt would trap); an ImportError that names the fix is kinder.
    """

    def __init__(self) -> None:
        self.armed = False

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not self.armed:
            return None
        raise ImportError(
            f"cannot import {fullname!r} while handling a request: a script has no "
            "filesystem at run time; import it at the top of the script so that the "
            "build includes it",
            name=fullname,
        )


_IMPORT_REFUSAL = NoImportsAtRequestTime()


def install_import_refusal() -> None:
    """Put the (unarmed) `NoImportsAtRequestTime` ahead of the filesystem finders.

    At build time: a request then only arms it, instead of searching and
    changing `sys.meta_path` in every fresh instance.
    """
    if _IMPORT_REFUSAL not in sys.meta_path:
        position = next(
            (
                index
                for index, finder in enumerate(sys.meta_path)
                if finder is importlib.machinery.PathFinder
            ),
            0,
        )
        sys.meta_path.insert(position, _IMPORT_REFUSAL)


def forbid_imports_from_now_on() -> None:
    """Refuse every import from now on (installing the refusal if the build did not)."""
    install_import_refusal()
    _IMPORT_REFUSAL.armed = True
