"""Accepting a new version: validate everything before anything is stored."""

from __future__ import annotations

from typing import cast

from host.admin._versions import start_canary
from host.build_inputs import BuildInputs
from host.errors import HostError, TooLarge
from host.logs import get_logger
from host.quotas import EndpointQuotas
from host.sandbox import ModuleKind, check_module, module_kind
from host.state import host_state
from registry import Language, Version
from registry.models import merge_quotas

log = get_logger("scripthost.deploy")

LANGUAGES = frozenset({"js", "python", "wasm", "javy"})


class BadLanguage(HostError):
    status = 400
    code = "bad_language"


class NoStableVersion(HostError):
    status = 409
    code = "no_stable_version"


async def namespace_quotas(namespace: str) -> EndpointQuotas:
    registry = host_state().registry
    layers = (await registry.get_default_quotas(), (await registry.get_namespace(namespace)).quotas)
    return host_state().settings.default_quotas.resolve(merge_quotas(*layers))


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
    build: BuildInputs | None = None,
    canary: float | None = None,
) -> Version:
    """Check, compile, persist and record a module; activate it, or make it the canary
    at `canary` percent, if asked.

    Order matters: the size and magic are checked first (cheap), then the
    module is compiled and its imports and exports checked, and only then is
    anything written. A version that cannot compile never becomes active,
    and a refused upload leaves the registry as it was.
    """
    state = host_state()
    endpoint = await state.registry.get_endpoint(namespace, path)
    if canary is not None and endpoint.active_version is None:
        raise NoStableVersion(
            f"{namespace}{path} has no active version for a canary to be compared with:"
            " deploy one without a canary first"
        )
    quotas = await namespace_quotas(namespace)
    limit = min(state.settings.max_upload_bytes, quotas.max_module_bytes)
    if len(module) > limit:
        raise TooLarge(f"modules in {namespace!r} may be at most {limit} bytes")
    kind = module_kind(module)
    runtime: str | None = None
    if kind is ModuleKind.BUNDLE:
        if len(module) > quotas.max_bundle_bytes:
            raise TooLarge(
                f"bundles in {namespace!r} may be at most {quotas.max_bundle_bytes} bytes"
            )
        bundle = await state.loader.accept_bundle(module, f"{namespace}{path}")
        module_hash, runtime = bundle.bundle_hash, bundle.runtime.sha256
        resolved_language = _language(kind, bundle.runtime.language)
    else:
        module_hash = await _accept_module(module)
        resolved_language = _language(kind, language)
    version = await state.registry.add_version(
        namespace,
        path,
        language=resolved_language,
        source=source,
        module_hash=module_hash,
        author=actor,
        message=message,
        build=None if build is None else build.record(resolved_language),
        runtime=runtime,
    )
    log.info(
        "version uploaded",
        namespace=namespace,
        endpoint=path,
        version=version.id,
        module_hash=module_hash,
        runtime=runtime,
        actor=actor,
        bytes=len(module),
    )
    if canary is not None:
        await start_canary(state.registry, namespace, path, version.id, canary, actor)
        log.info(
            "canary started",
            namespace=namespace,
            endpoint=path,
            version=version.id,
            percent=canary,
            actor=actor,
        )
    elif activate:
        await state.registry.activate(namespace, path, version.id, actor=actor)
        log.info(
            "version activated", namespace=namespace, endpoint=path, version=version.id, actor=actor
        )
    # This host serves the change at once; the others within one refresh interval.
    await state.refresher.poll_once()
    return version


async def _accept_module(module: bytes) -> str:
    """Compile and check a component or Javy module, then store it and its artifact."""
    state = host_state()
    return await state.cache.accept(
        module,
        lambda compiled: check_module(compiled, state.engine.engine),
        state.registry.put_module,
    )


def _language(kind: ModuleKind, declared: str | None) -> Language:
    if kind is ModuleKind.JAVY:
        return "javy"
    if declared is None:
        return "wasm"
    if declared not in LANGUAGES - {"javy"}:
        raise BadLanguage(f"language must be one of js, python, wasm; got {declared!r}")
    return cast(Language, declared)
