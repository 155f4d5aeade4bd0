"""Shared runtimes in the management API, and how bundle and runtime refusals read.

A bundle names its runtime by the SHA-256 of the runtime's component; a
deploy asks whether the registry holds it and uploads it when it does not
(once per fleet and SDK version). An upload is checked (a component of the
`runtime` world, importing no more than this host's ABI) and compiled before
it is stored, so the first bundle on it compiles nothing.
"""

from __future__ import annotations

import re

from pydantic import BaseModel
from quart import Response
from quart_schema import DataSource, tag, validate_request, validate_response
from quart_schema.pydantic import File

from host.admin._api import admin_api
from host.admin._auth import principal
from host.admin._uploads import UploadTooLarge
from host.loader import UnknownRuntime
from host.sandbox import BundleRejected, InvalidBundle, RuntimeRejected, UnsupportedBundle
from host.state import host_state
from host.wire import json_error
from registry import NotFound

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Every refusal is the uploader's to fix: 422 with a code naming what is wrong.
_REFUSALS: tuple[tuple[type[Exception], str], ...] = (
    (UnsupportedBundle, "unsupported_bundle"),
    (InvalidBundle, "invalid_bundle"),
    (UnknownRuntime, "unknown_runtime"),
    (RuntimeRejected, "not_a_runtime"),
    (BundleRejected, "bundle_rejected"),
)


class RuntimeForm(BaseModel):
    module: File


class RuntimeOut(BaseModel):
    sha256: str


@admin_api.get("/runtimes/<sha256>")
@tag(["runtimes"])
@validate_response(RuntimeOut)
async def get_runtime(sha256: str) -> RuntimeOut:
    """Whether the registry holds the runtime with this SHA-256 (404 if not)."""
    principal()
    if not _SHA256.match(sha256) or not await host_state().registry.has_module(sha256):
        raise NotFound(f"no runtime {sha256}")
    return RuntimeOut(sha256=sha256)


@admin_api.post("/runtimes")
@tag(["runtimes"])
@validate_request(RuntimeForm, source=DataSource.FORM_MULTIPART)
@validate_response(RuntimeOut, 201)
async def upload_runtime(data: RuntimeForm) -> tuple[RuntimeOut, int]:
    """Upload a runtime component; it is checked and compiled before it is stored."""
    principal()
    state = host_state()
    module = data.module.read()
    if len(module) > state.settings.max_upload_bytes:
        raise UploadTooLarge(f"a runtime may be at most {state.settings.max_upload_bytes} bytes")
    return RuntimeOut(sha256=await state.loader.accept_runtime(module)), 201


def _refusal(code: str) -> object:
    async def handle(error: Exception) -> Response:
        return json_error(422, code, str(error))

    return handle


for _error, _code in _REFUSALS:
    admin_api.register_error_handler(_error, _refusal(_code))  # type: ignore[arg-type]
