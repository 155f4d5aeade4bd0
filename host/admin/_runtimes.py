"""Shared runtimes in the management API, and how bundle and runtime refusals read.

A bundle names its runtime by the SHA-256 of the runtime's component; a
deploy asks whether the registry holds it and uploads it when it does not
(once per fleet and SDK version). An upload is checked (a component of the
`runtime` world, importing no more than this host's ABI) and compiled before
it is stored, so the first bundle on it compiles nothing. Refusals are
422s whose codes name what is wrong (the errors' own, see host.errors).
"""

from __future__ import annotations

import re

from pydantic import BaseModel
from quart_schema import DataSource, tag, validate_request, validate_response
from quart_schema.pydantic import File

from host.admin._api import admin_api
from host.admin._auth import principal
from host.errors import TooLarge
from host.state import host_state
from registry import NotFound

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


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
        raise TooLarge(f"a runtime may be at most {state.settings.max_upload_bytes} bytes")
    return RuntimeOut(sha256=await state.loader.accept_runtime(module)), 201
