"""Contract: modules are content-addressed, artifacts keyed by module and engine; both checked."""

from __future__ import annotations

import hashlib
import os

import pytest

from registry import CorruptBlob, NotFound, Registry
from tests.support.registries import Backend

FINGERPRINT = "wasmtime-50.0.1-x86_64-linux-0123456789abcdef"
OTHER_FINGERPRINT = "wasmtime-51.0.0-x86_64-linux-fedcba9876543210"


async def test_a_module_is_stored_under_its_sha256(registry: Registry) -> None:
    data = b"\0asm\x01\0\0\0 module bytes"

    module_hash = await registry.put_module(data)

    assert module_hash == hashlib.sha256(data).hexdigest()
    assert await registry.get_module(module_hash) == data
    assert await registry.has_module(module_hash)


async def test_storing_a_module_again_is_a_no_op(registry: Registry) -> None:
    first = await registry.put_module(b"same bytes")
    second = await registry.put_module(b"same bytes")
    other = await registry.put_module(b"other bytes")

    assert first == second
    assert other != first
    assert await registry.get_module(first) == b"same bytes"
    assert await registry.get_module(other) == b"other bytes"


async def test_storing_a_module_is_not_a_change(registry: Registry) -> None:
    await registry.put_module(b"bytes")

    assert await registry.latest_seq() == 0


async def test_an_unknown_module_is_not_found(registry: Registry) -> None:
    unknown = hashlib.sha256(b"never stored").hexdigest()

    assert not await registry.has_module(unknown)
    with pytest.raises(NotFound):
        await registry.get_module(unknown)


@pytest.mark.parametrize("module_hash", ["", "abc", "G" * 64, "AB" * 32, "../" + "a" * 61])
async def test_a_malformed_module_hash_is_refused(registry: Registry, module_hash: str) -> None:
    with pytest.raises(ValueError, match="hash"):
        await registry.get_module(module_hash)
    with pytest.raises(ValueError, match="hash"):
        await registry.get_artifact(module_hash, FINGERPRINT)


async def test_a_damaged_module_is_reported_and_repaired_by_uploading_it_again(
    registry: Registry, backend: Backend
) -> None:
    module_hash = await registry.put_module(b"precious module")
    await backend.corrupt_module(module_hash)

    with pytest.raises(CorruptBlob):
        await registry.get_module(module_hash)

    assert await registry.put_module(b"precious module") == module_hash
    assert await registry.get_module(module_hash) == b"precious module"


async def test_an_artifact_round_trips_per_module_and_fingerprint(registry: Registry) -> None:
    module_hash = await registry.put_module(b"module")
    artifact = os.urandom(4 << 20)

    assert await registry.get_artifact(module_hash, FINGERPRINT) is None
    assert not await registry.has_artifact(module_hash, FINGERPRINT)

    await registry.put_artifact(module_hash, FINGERPRINT, artifact)

    assert await registry.get_artifact(module_hash, FINGERPRINT) == artifact
    assert await registry.has_artifact(module_hash, FINGERPRINT)
    assert await registry.get_artifact(module_hash, OTHER_FINGERPRINT) is None
    other_module = hashlib.sha256(b"other").hexdigest()
    assert await registry.get_artifact(other_module, FINGERPRINT) is None


async def test_putting_an_artifact_again_replaces_it(registry: Registry) -> None:
    module_hash = await registry.put_module(b"module")
    await registry.put_artifact(module_hash, FINGERPRINT, b"old artifact")

    await registry.put_artifact(module_hash, FINGERPRINT, b"new artifact")

    assert await registry.get_artifact(module_hash, FINGERPRINT) == b"new artifact"


async def test_a_damaged_artifact_is_reported_once_then_reads_as_absent(
    registry: Registry, backend: Backend
) -> None:
    module_hash = await registry.put_module(b"module")
    await registry.put_artifact(module_hash, FINGERPRINT, b"compiled code" * 1000)
    await registry.put_artifact(module_hash, OTHER_FINGERPRINT, b"other engine")
    await backend.corrupt_artifact(module_hash, FINGERPRINT)

    with pytest.raises(CorruptBlob):
        await registry.get_artifact(module_hash, FINGERPRINT)

    assert await registry.get_artifact(module_hash, FINGERPRINT) is None
    assert not await registry.has_artifact(module_hash, FINGERPRINT)
    assert await registry.get_artifact(module_hash, OTHER_FINGERPRINT) == b"other engine"
    await registry.put_artifact(module_hash, FINGERPRINT, b"recompiled")
    assert await registry.get_artifact(module_hash, FINGERPRINT) == b"recompiled"


@pytest.mark.parametrize("fingerprint", ["", "../escape", "a/b", "x" * 129, ".hidden"])
async def test_a_malformed_fingerprint_is_refused(registry: Registry, fingerprint: str) -> None:
    module_hash = await registry.put_module(b"module")

    with pytest.raises(ValueError, match="fingerprint"):
        await registry.put_artifact(module_hash, fingerprint, b"artifact")
