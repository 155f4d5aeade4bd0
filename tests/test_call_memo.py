"""Request-scoped de-duplication through the gateway, counted by the real example backend."""

from __future__ import annotations

import itertools
import time
from collections.abc import AsyncIterator, Sequence

import pytest

from host.backends import (
    BackendCallRecord,
    BackendGateway,
    BackendOutcome,
    BackendRequest,
    BackendResponse,
    CallMemo,
    CallSource,
    Catalogue,
    Service,
)
from tests.support.counting import received

_unique = itertools.count()


@pytest.fixture
async def gateway(example_backend: str) -> AsyncIterator[BackendGateway]:
    made = BackendGateway(Catalogue([Service("echo", example_backend)]))
    yield made
    await made.aclose()


def fresh_path() -> str:
    return f"/echo?memo={next(_unique)}"


def get(path: str, headers: Sequence[tuple[str, str]] = ()) -> BackendRequest:
    return BackendRequest("echo", "GET", path, headers=list(headers))


async def batch(
    gateway: BackendGateway, memo: CallMemo, *requests: BackendRequest
) -> list[tuple[BackendOutcome, BackendCallRecord]]:
    return await gateway.call_batch(
        requests, allowed=None, deadline=time.monotonic() + 5, concurrency=8, memo=memo
    )


async def test_the_same_read_twice_in_one_batch_is_one_call(
    gateway: BackendGateway, example_backend: str
) -> None:
    path = fresh_path()
    (first, first_record), (second, second_record) = await batch(
        gateway, CallMemo(), get(path), get(path)
    )

    assert received(example_backend, path) == 1
    assert isinstance(first, BackendResponse)
    assert isinstance(second, BackendResponse)
    assert first.body == second.body
    assert [first_record.source, second_record.source] == [CallSource.NETWORK, CallSource.SHARED]


async def test_later_batches_of_the_same_request_share_it_too(
    gateway: BackendGateway, example_backend: str
) -> None:
    path, memo = fresh_path(), CallMemo()
    await batch(gateway, memo, get(path))
    [(_, record)] = await batch(gateway, memo, get(path, [("Accept", "x")]))
    [(_, again)] = await batch(gateway, memo, get(path, [("accept", "x")]))

    assert received(example_backend, path) == 2  # another header is another call
    assert (record.source, again.source) == (CallSource.NETWORK, CallSource.SHARED)


async def test_another_request_makes_its_own_call(
    gateway: BackendGateway, example_backend: str
) -> None:
    path = fresh_path()
    await batch(gateway, CallMemo(), get(path))
    await batch(gateway, CallMemo(), get(path))

    assert received(example_backend, path) == 2


async def test_a_write_makes_the_request_read_that_service_again(
    gateway: BackendGateway, example_backend: str
) -> None:
    path, memo = fresh_path(), CallMemo()
    write = BackendRequest("echo", "POST", path, body=b"{}")
    await batch(gateway, memo, get(path))
    await batch(gateway, memo, write)
    await batch(gateway, memo, write)
    [(_, record)] = await batch(gateway, memo, get(path))

    assert received(example_backend, path) == 4  # both writes, and a second read
    assert record.source is CallSource.NETWORK
