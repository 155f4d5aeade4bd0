"""Sandbox worker threads: calls run off the event loop, one per thread, answers come back."""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Iterator

import pytest

from host.sandbox._workers import Workers


@pytest.fixture
def workers() -> Iterator[Workers]:
    pool = Workers(2, "test-workers")
    yield pool
    pool.close()


async def test_a_call_runs_on_a_worker_thread_and_its_value_comes_back(workers: Workers) -> None:
    ran_on = await workers.submit(lambda: threading.current_thread().name)
    assert ran_on.startswith("test-workers_")
    assert ran_on != threading.current_thread().name


async def test_what_a_call_raises_is_raised_to_its_awaiter(workers: Workers) -> None:
    def fail() -> None:
        raise ValueError("from the worker")

    with pytest.raises(ValueError, match="from the worker"):
        await workers.submit(fail)
    assert await workers.submit(lambda: "still serving") == "still serving"


async def test_no_more_calls_run_at_once_than_there_are_threads(workers: Workers) -> None:
    lock = threading.Lock()
    running, most = 0, 0
    release, both_running = threading.Event(), threading.Event()

    def held() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            if running == 2:
                both_running.set()
        release.wait(timeout=30)
        with lock:
            running -= 1

    calls = [workers.submit(held) for _ in range(6)]
    assert await asyncio.to_thread(both_running.wait, 30)
    release.set()
    await asyncio.gather(*calls)
    assert most == 2


async def test_a_cancelled_awaiter_leaves_the_call_running_and_the_workers_serving(
    workers: Workers,
) -> None:
    started, release, finished = threading.Event(), threading.Event(), threading.Event()

    def slow() -> None:
        started.set()
        release.wait(timeout=30)
        finished.set()

    waiter = asyncio.ensure_future(workers.submit(slow))
    await asyncio.to_thread(started.wait, 30)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert await workers.submit(lambda: 7) == 7
    release.set()
    assert await asyncio.to_thread(finished.wait, 30)


async def test_close_lets_queued_calls_finish_and_refuses_new_ones() -> None:
    pool = Workers(1, "test-close")
    done: list[int] = []
    calls = [pool.submit(functools.partial(done.append, n)) for n in range(5)]
    pool.close()
    assert done == [0, 1, 2, 3, 4]
    await asyncio.gather(*calls)
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(lambda: None)
