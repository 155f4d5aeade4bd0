"""Contract: state survives reopening and is shared by every registry on the same store."""

from __future__ import annotations

import asyncio

import pytest

from registry import Registry, RegistryUnavailable
from tests.support.registries import Backend


async def test_everything_survives_close_and_reopen(backend: Backend) -> None:
    registry = await backend.open()
    module_hash = await registry.put_module(b"module")
    await registry.put_artifact(module_hash, "engine-1", b"artifact")
    await registry.put_endpoint("team", "/feed", methods=["GET"], config={"a": "1"}, actor="ana")
    version = await registry.add_version(
        "team", "/feed", language="js", module_hash=module_hash, author="ana", source="src"
    )
    await registry.activate("team", "/feed", version.id, actor="ana")
    await registry.set_namespace_quotas("team", {"fuel": 2}, actor="root")
    await registry.set_default_quotas({"fuel": 1}, actor="root")
    before = (
        await registry.list_endpoints(),
        await registry.list_versions("team", "/feed"),
        await registry.get_namespace("team"),
        dict(await registry.get_default_quotas()),
        await registry.audit_log(),
        await registry.changes_since(0),
    )
    await registry.close()

    reopened = await backend.open()

    after = (
        await reopened.list_endpoints(),
        await reopened.list_versions("team", "/feed"),
        await reopened.get_namespace("team"),
        dict(await reopened.get_default_quotas()),
        await reopened.audit_log(),
        await reopened.changes_since(0),
    )
    assert after == before
    assert await reopened.get_module(module_hash) == b"module"
    assert await reopened.get_artifact(module_hash, "engine-1") == b"artifact"
    next_version = await reopened.add_version(
        "team", "/feed", language="js", module_hash=module_hash, author="ana"
    )
    assert next_version.id == "v2"
    assert (await reopened.changes_since(0))[-1].seq > before[-1][-1].seq


async def test_a_closed_registry_refuses_work(registry: Registry) -> None:
    module_hash = await registry.put_module(b"module")
    await registry.close()
    await registry.close()

    with pytest.raises(RegistryUnavailable):
        await registry.list_endpoints()
    with pytest.raises(RegistryUnavailable):
        await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    with pytest.raises(RegistryUnavailable):
        await registry.get_module(module_hash)
    with pytest.raises(RegistryUnavailable):
        await registry.latest_seq()


async def test_registries_on_one_store_see_each_others_changes(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()

    await first.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    module_hash = await first.put_module(b"module")
    version = await second.add_version(
        "team", "/feed", language="js", module_hash=module_hash, author="bo"
    )
    await first.activate("team", "/feed", version.id, actor="ana")

    assert (await second.get_endpoint("team", "/feed")).active_version == version.id
    assert await second.changes_since(0) == await first.changes_since(0)
    assert await second.latest_seq() == await first.latest_seq()


async def test_concurrent_uploads_get_distinct_consecutive_versions(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()
    await first.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    module_hash = await first.put_module(b"module")

    versions = await asyncio.gather(
        *(
            registry.add_version(
                "team", "/feed", language="js", module_hash=module_hash, author=f"host-{n % 2}"
            )
            for n, registry in enumerate([first, second] * 10)
        )
    )

    assert sorted(int(v.id[1:]) for v in versions) == list(range(1, 21))
    assert len(await second.list_versions("team", "/feed")) == 20


async def test_a_poller_misses_no_change_made_while_it_polls(backend: Backend) -> None:
    writer, poller = await backend.open(), await backend.open()
    seen: list[int] = []
    writing = True

    async def write() -> None:
        nonlocal writing
        for n in range(40):
            await writer.put_endpoint("team", f"/e{n}", methods=["GET"], actor="ana")
        writing = False

    async def poll() -> None:
        while True:
            done = not writing
            batch = await poller.changes_since(seen[-1] if seen else 0)
            seen.extend(change.seq for change in batch)
            if done:
                return
            await asyncio.sleep(0)

    await asyncio.gather(write(), poll())

    assert seen == [change.seq for change in await writer.changes_since(0)]
    assert len(seen) == 40
