"""Single-flight loading: concurrent asks share one load, its result or its failure."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from host.flights import SingleFlight


async def test_concurrent_asks_for_one_key_share_one_load() -> None:
    flights: SingleFlight[str, str] = SingleFlight()
    loads: list[str] = []
    release = asyncio.Event()

    def loader(key: str) -> Callable[[], Awaitable[str]]:
        async def load() -> str:
            loads.append(key)
            await release.wait()
            return f"{key}{len(loads)}"

        return load

    waiting = [asyncio.create_task(flights.run("a", loader("a"))) for _ in range(3)]
    other = asyncio.create_task(flights.run("b", loader("b")))
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting, other) == ["a2", "a2", "a2", "b2"]
    assert loads == ["a", "b"]
    # A finished load is not remembered: the next ask loads again.
    assert await flights.run("a", loader("a")) == "a3"


async def test_a_failed_load_fails_every_asker_and_the_next_ask_loads_again() -> None:
    flights: SingleFlight[str, int] = SingleFlight()
    release = asyncio.Event()

    async def failing() -> int:
        await release.wait()
        raise RuntimeError("no")

    waiting = [asyncio.create_task(flights.run("a", failing)) for _ in range(2)]
    await asyncio.sleep(0)
    release.set()
    for task in waiting:
        with pytest.raises(RuntimeError, match="no"):
            await task

    async def working() -> int:
        return 7

    assert await flights.run("a", working) == 7
