"""The shared response cache on the gateway's path, against the real example backend.

Every test asks for paths of its own (a unique `n` parameter) and counts what
the backend received for them.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Sequence

import pytest

from host.backends import (
    BackendError,
    BackendErrorKind,
    BackendGateway,
    BackendOutcome,
    BackendRequest,
    BackendResponse,
    CallSource,
    Catalogue,
    Service,
)
from host.response_cache import CachePolicy, ResponseCache
from tests.support import servers
from tests.support.counting import received

_unique = itertools.count()


def echo_path(**query: str) -> str:
    parts = [f"n={next(_unique)}", *(f"{k}={v}" for k, v in query.items())]
    return "/echo?" + "&".join(parts)


def gateway_for(base: str, policy: CachePolicy | None, timeout_ms: int = 2_000) -> BackendGateway:
    service = Service("echo", base, cache=policy, timeout_ms=timeout_ms)
    return BackendGateway(Catalogue([service]), cache=ResponseCache(max_bytes=1 << 20))


@pytest.fixture
async def cached(example_backend: str) -> AsyncIterator[BackendGateway]:
    gateway = gateway_for(example_backend, CachePolicy(ttl_s=60))
    yield gateway
    await gateway.aclose()


async def get(
    gateway: BackendGateway,
    path: str,
    *,
    seconds: float = 5.0,
    headers: Sequence[tuple[str, str]] = (),
) -> tuple[BackendOutcome, CallSource]:
    request = BackendRequest("echo", "GET", path, headers=list(headers))
    outcome, record = await gateway.call(request, allowed=None, deadline=time.monotonic() + seconds)
    return outcome, record.source


def cache_status(outcome: BackendOutcome) -> str | None:
    assert isinstance(outcome, BackendResponse), outcome
    return dict(outcome.headers).get("x-scripthost-cache")


async def test_a_second_call_within_the_ttl_costs_no_backend_call(
    cached: BackendGateway, example_backend: str
) -> None:
    path = echo_path()
    first, first_source = await get(cached, path)
    second, second_source = await get(cached, path)

    assert received(example_backend, path) == 1
    assert (cache_status(first), first_source) == ("miss", CallSource.NETWORK)
    assert (cache_status(second), second_source) == ("hit", CallSource.CACHE)
    assert isinstance(second, BackendResponse)
    assert isinstance(first, BackendResponse)
    assert second.body == first.body
    assert cached.responses is not None
    assert cached.responses.store.events["echo"]["hit"] == 1


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ({"cache_control": "private,max-age=60"}, []),
        ({"cache_control": "no-store"}, []),
        ({"set_cookie": "session=1"}, []),
        ({}, [("authorization", "Bearer user-token")]),
        ({}, [("cookie", "session=1")]),
    ],
    ids=["private", "no-store", "sets-a-cookie", "authorization", "cookie"],
)
async def test_private_answers_and_credentialed_calls_are_never_cached(
    cached: BackendGateway,
    example_backend: str,
    query: dict[str, str],
    headers: list[tuple[str, str]],
) -> None:
    path = echo_path(**query)
    for _ in range(2):
        await get(cached, path, headers=headers)
    assert received(example_backend, path) == 2
    assert cached.responses is not None
    assert len(cached.responses.store) == 0


async def test_a_service_without_a_cache_policy_is_always_called(example_backend: str) -> None:
    gateway = gateway_for(example_backend, None)
    path = echo_path(cache_control="public,max-age=60")
    try:
        outcomes = [(await get(gateway, path))[0] for _ in range(2)]
    finally:
        await gateway.aclose()
    assert received(example_backend, path) == 2
    assert [cache_status(outcome) for outcome in outcomes] == [None, None]


async def test_without_a_ttl_the_services_max_age_decides(example_backend: str) -> None:
    gateway = gateway_for(example_backend, CachePolicy())
    honoured, ignored = echo_path(cache_control="max-age=60"), echo_path()
    try:
        for path in (honoured, honoured, ignored, ignored):
            await get(gateway, path)
    finally:
        await gateway.aclose()
    assert (received(example_backend, honoured), received(example_backend, ignored)) == (1, 2)


async def test_a_service_cannot_claim_its_answer_came_from_the_cache(
    example_backend: str,
) -> None:
    gateway = gateway_for(example_backend, None)
    try:
        # The echo answers with what it was sent; a header of that name in the
        # answer is the host's to set, so the one the service sends is dropped.
        outcome, _ = await get(gateway, echo_path(), headers=[("x-scripthost-cache", "hit")])
    finally:
        await gateway.aclose()
    assert cache_status(outcome) is None


async def test_a_stale_answer_stands_in_when_the_service_is_down() -> None:
    with servers.example_backend() as base:
        gateway = gateway_for(base, CachePolicy(ttl_s=0, stale_if_error_s=600))
        path = echo_path()
        first, _ = await get(gateway, path)
        again, _ = await get(gateway, path)
        assert received(base, path) == 2  # never fresh: each call goes to the service
    try:
        stale, source = await get(gateway, path)
    finally:
        await gateway.aclose()
    assert (cache_status(first), cache_status(again)) == ("miss", "miss")
    assert (cache_status(stale), source) == ("stale", CallSource.STALE)
    assert isinstance(stale, BackendResponse)
    assert isinstance(again, BackendResponse)
    assert stale.body == again.body


async def test_a_server_error_is_answered_stale_within_stale_if_error(
    example_backend: str,
) -> None:
    gateway = gateway_for(example_backend, CachePolicy(ttl_s=0, stale_if_error_s=600))
    path = echo_path()
    try:
        await get(gateway, path)
        # Not a header the cache keys on: the same entry, and now the service fails.
        outcome, source = await get(gateway, path, headers=[("x-echo-status", "503")])
    finally:
        await gateway.aclose()
    assert received(example_backend, path) == 2
    assert (cache_status(outcome), source) == ("stale", CallSource.STALE)
    assert isinstance(outcome, BackendResponse)
    assert outcome.status == 200


async def test_without_stale_if_error_the_failure_reaches_the_script() -> None:
    with servers.example_backend() as base:
        gateway = gateway_for(base, CachePolicy(ttl_s=0, stale_while_revalidate_s=0))
        path = echo_path(cache_control="max-age=0,stale-if-error=600,must-revalidate")
        await get(gateway, path)
    try:
        outcome, source = await get(gateway, path)
    finally:
        await gateway.aclose()
    assert isinstance(outcome, BackendError)
    assert (outcome.kind, source) == (BackendErrorKind.UNAVAILABLE, CallSource.NETWORK)


async def test_stale_while_revalidate_answers_at_once_and_refreshes_in_the_background(
    example_backend: str,
) -> None:
    gateway = gateway_for(example_backend, CachePolicy(ttl_s=0, stale_while_revalidate_s=600))
    path = echo_path(delay_ms="300")
    try:
        await get(gateway, path)
        # Less time than the service takes: only an answer that does not wait fits.
        stale, source = await get(gateway, path, seconds=0.1)
        assert (cache_status(stale), source) == ("stale", CallSource.STALE)
        assert gateway.responses is not None
        await asyncio.gather(*gateway.responses._fetches.values())
        assert received(example_backend, path) == 2
        assert gateway.responses.store.events["echo"]["store"] == 2
    finally:
        await gateway.aclose()


async def test_concurrent_misses_from_many_requests_share_one_call(
    cached: BackendGateway, example_backend: str
) -> None:
    path = echo_path(delay_ms="200")
    answers = await asyncio.gather(*(get(cached, path) for _ in range(5)))

    assert received(example_backend, path) == 1
    assert [cache_status(outcome) for outcome, _ in answers] == ["miss"] * 5


async def test_a_caller_out_of_time_leaves_the_shared_call_to_fill_the_cache(
    cached: BackendGateway, example_backend: str
) -> None:
    path = echo_path(delay_ms="300")
    impatient, _ = await get(cached, path, seconds=0.05)
    assert isinstance(impatient, BackendError)
    assert impatient.kind is BackendErrorKind.TIMEOUT
    assert cached.responses is not None
    await asyncio.gather(*cached.responses._fetches.values())

    later, source = await get(cached, path)
    assert (cache_status(later), source) == ("hit", CallSource.CACHE)
    assert received(example_backend, path) == 1


async def test_a_successful_change_invalidates_what_was_cached_of_its_path(
    cached: BackendGateway, example_backend: str
) -> None:
    path = echo_path()
    await get(cached, path)
    change = BackendRequest("echo", "PUT", path, body=b"{}")
    await cached.call(change, allowed=None, deadline=time.monotonic() + 5)
    await get(cached, path)

    assert received(example_backend, path) == 3


async def test_a_changed_catalogue_entry_drops_its_cached_answers(
    cached: BackendGateway, example_backend: str
) -> None:
    path = echo_path()
    await get(cached, path)
    changed = Service("echo", example_backend, cache=CachePolicy(ttl_s=120))
    cached.use_catalogue(Catalogue([changed]))
    _, source = await get(cached, path)

    assert source is CallSource.NETWORK
    assert received(example_backend, path) == 2


async def test_an_answer_fetched_under_a_changed_entry_is_not_stored(
    cached: BackendGateway, example_backend: str
) -> None:
    path = echo_path(delay_ms="200")
    pending = asyncio.ensure_future(get(cached, path))
    await asyncio.sleep(0.05)  # the fetch is under way
    moved = Service("echo", f"{example_backend}/moved", cache=CachePolicy(ttl_s=60))
    cached.use_catalogue(Catalogue([moved]))
    await pending

    assert cached.responses is not None
    assert len(cached.responses.store) == 0
