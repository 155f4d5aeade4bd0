"""Accepting a new version: validate everything before anything is stored."""

from __future__ import annotations

from typing import cast

from host.logs import get_logger
from host.sandbox import ModuleKind, module_kind
from host.state import host_state
from host.validation import check_module
from registry import Language, Version

log = get_logger("scripthost.deploy")

LANGUAGES = frozenset({"js", "python", "wasm", "javy"})


class UploadTooLarge(ValueError):
    pass


class BadLanguage(ValueError):
    pass


async def accept_upload(
    namespace: str,
    path: str,
    *,
    module: bytes,
    source: str | None,
    language: str | None,
    message: str,
    activate: bool,
    actor: str,
) -> Version:
    """Check, compile, persist and record a module; activate it if asked.

    Order matters: the size and magic are checked first (cheap), then the
    module is compiled and its imports and exports checked, and only then is
    anything written. A version that cannot compile never becomes active,
    and a refused upload leaves the registry as it was.
    """
    state = host_state()
    if len(module) > state.settings.max_upload_bytes:
        raise UploadTooLarge(f"modules may be at most {state.settings.max_upload_bytes} bytes")
    await state.registry.get_endpoint(namespace, path)
    kind = module_kind(module)
    resolved_language = _language(kind, language)
    compiled = await state.cache.compile(module)
    check_module(compiled, state.engine.engine)
    module_hash = await state.registry.put_module(module)
    await state.cache.add_compiled(compiled)
    version = await state.registry.add_version(
        namespace,
        path,
        language=resolved_language,
        source=source,
        module_hash=module_hash,
        author=actor,
        message=message,
    )
    log.info(
        "version uploaded",
        namespace=namespace,
        endpoint=path,
        version=version.id,
        module_hash=module_hash,
        actor=actor,
        bytes=len(module),
    )
    if activate:
        await state.registry.activate(namespace, path, version.id, actor=actor)
        log.info(
            "version activated", namespace=namespace, endpoint=path, version=version.id, actor=actor
        )
    # This host serves the change at once; the others within one refresh interval.
    await state.refresher.poll_once()
    return version


def _language(kind: ModuleKind, declared: str | None) -> Language:
    if kind is ModuleKind.JAVY:
        return "javy"
    if declared is None:
        return "wasm"
    if declared not in LANGUAGES - {"javy"}:
        raise BadLanguage(f"language must be one of js, python, wasm; got {declared!r}")
    return cast(Language, declared)
