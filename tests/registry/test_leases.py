"""Contract: a lease lets one holder at a time do an expensive job, and lapses on its own."""

from __future__ import annotations

import asyncio

import pytest

from registry import Registry
from tests.support.registries import Backend

KEY = "compile:abc:fingerprint"


async def test_one_holder_at_a_time(registry: Registry) -> None:
    assert await registry.try_lease(KEY, "host-a", 60)
    assert not await registry.try_lease(KEY, "host-b", 60)
    assert await registry.try_lease(KEY, "host-a", 60)  # renewing
    assert await registry.try_lease("compile:other", "host-b", 60)


async def test_releasing_lets_the_next_holder_in(registry: Registry) -> None:
    await registry.try_lease(KEY, "host-a", 60)

    await registry.release_lease(KEY, "host-b")  # not the holder: no effect
    assert not await registry.try_lease(KEY, "host-b", 60)

    await registry.release_lease(KEY, "host-a")
    assert await registry.try_lease(KEY, "host-b", 60)


async def test_an_expired_lease_can_be_taken(registry: Registry) -> None:
    assert await registry.try_lease(KEY, "host-a", 0.2)

    await asyncio.sleep(0.4)

    assert await registry.try_lease(KEY, "host-b", 60)
    assert not await registry.try_lease(KEY, "host-a", 60)


async def test_leases_are_shared_between_registries(backend: Backend) -> None:
    first, second = await backend.open(), await backend.open()

    results = await asyncio.gather(
        *(registry.try_lease(KEY, f"host-{n}", 60) for n, registry in enumerate([first, second]))
    )

    assert sorted(results) == [False, True]


@pytest.mark.parametrize("ttl", [0, -1])
async def test_a_lease_needs_a_positive_ttl(registry: Registry, ttl: float) -> None:
    with pytest.raises(ValueError, match="ttl"):
        await registry.try_lease(KEY, "host-a", ttl)
