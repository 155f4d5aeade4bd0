"""The shared cache's rules and bounds, with the clock handed in (no waiting, no I/O)."""

from __future__ import annotations

import pytest

from host.response_cache import (
    CacheKey,
    CachePolicy,
    Freshness,
    Headers,
    Lifetimes,
    ResponseCache,
    cache_key,
    entry_size,
    lifetimes,
    request_is_cacheable,
    request_wants_fresh,
)

HONOUR = CachePolicy()
TTL = CachePolicy(ttl_s=30)


def cc(value: str) -> Headers:
    return [("cache-control", value)]


@pytest.mark.parametrize(
    ("headers", "fresh"),
    [
        (cc("public, max-age=60"), 60.0),
        (cc("max-age=60, s-maxage=5"), 5.0),
        (cc("s-maxage=0, max-age=60"), None),
        ([*cc("max-age=60"), ("age", "15")], 45.0),
        (cc('max-age="20"'), 20.0),
        ([("Cache-Control", "max-age=10"), ("content-type", "text/plain")], 10.0),
        ([], None),
        (cc("max-age=soon"), None),
    ],
)
def test_without_a_ttl_the_service_says_how_long(headers: Headers, fresh: float | None) -> None:
    found = lifetimes(HONOUR, 200, headers)
    assert (found.fresh_s if found else None) == fresh


def test_a_ttl_overrides_what_the_service_says() -> None:
    assert lifetimes(TTL, 200, cc("max-age=5")) == Lifetimes(30, 0, 0)
    assert lifetimes(TTL, 200, []) == Lifetimes(30, 0, 0)


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        (200, cc("private, max-age=60")),
        (200, cc("no-store")),
        (200, cc("no-cache, max-age=60")),
        (200, cc("Private")),
        (200, [("set-cookie", "session=1")]),
        (200, [("vary", "*")]),
        (200, [("vary", "accept-language")]),
        (500, []),
        (206, []),
    ],
    ids=[
        "private",
        "no-store",
        "no-cache",
        "private-any-case",
        "sets-a-cookie",
        "varies-on-anything",
        "varies-on-an-unkeyed-header",
        "server-error",
        "partial",
    ],
)
def test_what_is_never_stored_even_with_a_ttl(status: int, headers: Headers) -> None:
    assert lifetimes(TTL, status, headers) is None


def test_an_answer_may_vary_on_headers_the_catalogue_keys() -> None:
    keyed = CachePolicy(ttl_s=30, vary=("accept-language", "x-device"))
    assert lifetimes(keyed, 200, [("vary", "Accept-Language, x-device")]) is not None


def test_stale_windows_come_from_the_catalogue_or_else_the_answer() -> None:
    answer = cc("max-age=10, stale-while-revalidate=20, stale-if-error=300")
    assert lifetimes(HONOUR, 200, answer) == Lifetimes(10, 20, 300)
    declared = CachePolicy(stale_while_revalidate_s=1, stale_if_error_s=2)
    assert lifetimes(declared, 200, answer) == Lifetimes(10, 1, 2)


def test_must_revalidate_allows_no_stale_answers() -> None:
    declared = CachePolicy(ttl_s=10, stale_while_revalidate_s=5, stale_if_error_s=60)
    assert lifetimes(declared, 200, cc("must-revalidate")) == Lifetimes(10, 0, 0)


def test_an_answer_with_no_time_at_all_is_not_stored_but_zero_ttl_with_a_window_is() -> None:
    assert lifetimes(CachePolicy(ttl_s=0), 200, []) is None
    assert lifetimes(CachePolicy(ttl_s=0, stale_if_error_s=60), 200, []) == Lifetimes(0, 0, 60)


@pytest.mark.parametrize(
    ("method", "headers", "body", "cacheable"),
    [
        ("GET", [], b"", True),
        ("head", [("accept", "x")], b"", True),
        ("POST", [], b"", False),
        ("GET", [], b"x", False),
        ("GET", [("Authorization", "Bearer t")], b"", False),
        ("GET", [("cookie", "a=1")], b"", False),
        ("GET", cc("no-store"), b"", False),
    ],
)
def test_requests_with_credentials_or_changes_bypass_the_cache(
    method: str, headers: Headers, body: bytes, cacheable: bool
) -> None:
    assert request_is_cacheable(method, headers, body) is cacheable


def test_no_cache_from_the_script_asks_for_a_fresh_answer() -> None:
    assert request_wants_fresh(cc("no-cache"))
    assert not request_wants_fresh([])


def test_vary_headers_key_separate_entries() -> None:
    english = cache_key("s", "get", "/t", [("Accept-Language", "en")], ["accept-language"])
    french = cache_key("s", "GET", "/t", [("accept-language", "fr")], ["accept-language"])
    unkeyed = cache_key("s", "GET", "/t", [("accept-language", "fr")], [])
    assert english != french
    assert english.method == "GET"
    assert unkeyed == CacheKey("s", "GET", "/t")


def key(path: str, service: str = "s") -> CacheKey:
    return CacheKey(service, "GET", path)


def answer(size: int = 100) -> tuple[int, Headers, bytes]:
    return (200, [], b"x" * size)


def test_an_entry_is_fresh_then_stale_then_only_for_errors_then_gone() -> None:
    cache = ResponseCache(max_bytes=1 << 20)
    assert cache.store(key("/t"), HONOUR, Lifetimes(10, 5, 60), answer(), now=100.0)

    assert cache.lookup(key("/t"), 109.9).freshness is Freshness.FRESH  # type: ignore[union-attr]
    assert cache.lookup(key("/t"), 114.9).freshness is Freshness.STALE  # type: ignore[union-attr]
    assert cache.lookup(key("/t"), 169.9).freshness is Freshness.ON_ERROR  # type: ignore[union-attr]
    assert cache.lookup(key("/t"), 170.0) is None
    assert len(cache) == 0
    assert cache.total_bytes == 0


def test_each_service_keeps_within_its_own_bytes_least_recently_used_first() -> None:
    size = entry_size(key("/1"), [], b"x" * 100)
    policy = CachePolicy(ttl_s=60, max_bytes=3 * size)
    cache = ResponseCache(max_bytes=1 << 20)
    for path in ("/1", "/2", "/3"):
        cache.store(key(path), policy, Lifetimes(60, 0, 0), answer(), now=0.0)
    cache.lookup(key("/1"), 1.0)  # now the most recently used

    cache.store(key("/4"), policy, Lifetimes(60, 0, 0), answer(), now=2.0)

    assert [cache.lookup(key(p), 3.0) is not None for p in ("/1", "/2", "/3", "/4")] == [
        True,
        False,
        True,
        True,
    ]
    assert cache.events["s"]["evict"] == 1


def test_past_the_host_total_the_biggest_service_gives_way() -> None:
    size = entry_size(key("/1"), [], b"x" * 100)
    cache = ResponseCache(max_bytes=4 * size)
    for path in ("/1", "/2", "/3"):
        cache.store(key(path, "big"), TTL, Lifetimes(60, 0, 0), answer(), now=0.0)
    cache.store(key("/1", "small"), TTL, Lifetimes(60, 0, 0), answer(), now=0.0)

    cache.store(key("/2", "small"), TTL, Lifetimes(60, 0, 0), answer(), now=1.0)

    assert cache.bytes_by_service() == {"big": 2 * size, "small": 2 * size}
    assert cache.lookup(key("/1", "big"), 2.0) is None
    assert cache.lookup(key("/1", "small"), 2.0) is not None


def test_an_answer_larger_than_the_bound_is_not_stored() -> None:
    cache = ResponseCache(max_bytes=1 << 20)
    assert not cache.store(
        key("/t"), CachePolicy(max_bytes=1024), Lifetimes(60, 0, 0), answer(2000), now=0.0
    )
    assert len(cache) == 0
    assert cache.events["s"]["too_large"] == 1


def test_storing_again_replaces_the_entry_and_its_bytes() -> None:
    cache = ResponseCache(max_bytes=1 << 20)
    cache.store(key("/t"), TTL, Lifetimes(60, 0, 0), answer(100), now=0.0)
    cache.store(key("/t"), TTL, Lifetimes(60, 0, 0), answer(10), now=1.0)

    assert len(cache) == 1
    assert cache.total_bytes == entry_size(key("/t"), [], b"x" * 10)


def test_invalidating_a_path_and_dropping_a_service() -> None:
    cache = ResponseCache(max_bytes=1 << 20)
    english = CacheKey("s", "GET", "/t", (("accept-language", "en"),))
    for stored in (english, CacheKey("s", "HEAD", "/t"), key("/other"), key("/t", "o")):
        cache.store(stored, TTL, Lifetimes(60, 0, 0), answer(), now=0.0)

    cache.invalidate("s", "/t")
    assert [k.path for k in (english, key("/other")) if cache.lookup(k, 1.0)] == ["/other"]

    cache.drop("s")
    assert cache.bytes_by_service() == {"o": cache.total_bytes}
