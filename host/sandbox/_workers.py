"""Sandbox worker threads, handed runs by the event loop and answering on it.

`loop.run_in_executor` wraps every call in a `concurrent.futures.Future`
chained to an asyncio one (locks, a condition, callbacks that copy state
from one to the other), about a tenth of the Python a hello request ran on
the event loop. A run needs less: a queue the workers wait on, and the
result set on the loop's own future from the loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
_Job = tuple[Callable[[], object], asyncio.Future[object], asyncio.AbstractEventLoop]


class Workers:
    """`count` threads running calls submitted from event loops, one call at a time each."""

    def __init__(self, count: int, name: str) -> None:
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._work, name=f"{name}_{n}", daemon=True)
            for n in range(count)
        ]
        for thread in self._threads:
            thread.start()
        self._closed = False

    def submit(self, call: Callable[[], T]) -> asyncio.Future[T]:
        """A future of the running loop, settled with what `call` returns or raises."""
        if self._closed:
            raise RuntimeError("the sandbox workers are closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put((call, future, loop))  # type: ignore[arg-type]
        return future

    def close(self) -> None:
        """Let every queued call run, then end the threads."""
        if self._closed:
            return
        self._closed = True
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            call, future, loop = job
            value: object = None
            error: BaseException | None = None
            try:
                value = call()
            except BaseException as raised:
                error = raised
            # A closed loop (RuntimeError) has nobody awaiting the answer any more.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_settle, future, value, error)
            # Nothing of the run outlives it on this thread.
            del job, call, future, value, error


def _settle(future: asyncio.Future[object], value: object, error: BaseException | None) -> None:
    if future.done():  # the awaiting task was cancelled
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
