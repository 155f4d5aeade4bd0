"""Single-flight loading: whoever asks for a key while it loads shares that one load."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._loading: dict[K, asyncio.Future[V]] = {}

    async def run(self, key: K, load: Callable[[], Awaitable[V]]) -> V:
        """`await load()`, unless a load of `key` is under way: then its result (or error)."""
        pending = self._loading.get(key)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            value = await load()
            future.set_result(value)
            return value
        except BaseException as error:
            future.set_exception(error)
            future.exception()  # a failure nobody else awaited is not "never retrieved"
            raise
        finally:
            del self._loading[key]
