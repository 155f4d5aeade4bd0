"""The backend gateway: only named services, only paths below them, concurrently."""

from __future__ import annotations

import time

import pytest

from host.backends import (
    BackendError,
    BackendErrorKind,
    BackendGateway,
    BackendRequest,
    BackendResponse,
    Catalogue,
    Service,
    UnsafePath,
    service_url,
)

PROFILE = Service(name="profile", base_url="http://127.0.0.1:9/profile")


@pytest.mark.parametrize(
    "path",
    [
        "http://169.254.169.254/latest/meta-data",
        "//evil.example/x",
        "/../admin",
        "/users/../../admin",
        "/%2e%2e/admin",
        "/%252e%252e/admin",
        "/%25252E%25252E/admin",
        "/users/%2525252e%2525252e/admin",
        "/users/..%2f..%2fadmin",
        "@evil.example/x",
        "/@evil.example",
        "/x\\..\\admin",
        "/x#fragment",
        "users/42",
        "/x\r\nHost: evil",
        "/x%5c..%5cadmin",
        "",
    ],
)
def test_paths_that_could_leave_the_service_are_refused(path: str) -> None:
    with pytest.raises(UnsafePath):
        service_url(PROFILE, path)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/users/42", "http://127.0.0.1:9/profile/users/42"),
        ("/users/42?fields=name,plan", "http://127.0.0.1:9/profile/users/42?fields=name,plan"),
        ("/a.b/c..d/", "http://127.0.0.1:9/profile/a.b/c..d/"),
        ("/find?email=ada@example.com", "http://127.0.0.1:9/profile/find?email=ada@example.com"),
    ],
)
def test_ordinary_paths_join_below_the_base_url(path: str, expected: str) -> None:
    assert str(service_url(PROFILE, path)) == expected


def test_catalogue_from_command_line_pairs() -> None:
    catalogue = Catalogue.from_pairs(["profile=http://127.0.0.1:8081/profile/"])
    service = catalogue.get("profile")
    assert service is not None
    assert service.base_url == "http://127.0.0.1:8081/profile"
    with pytest.raises(ValueError, match="NAME=http"):
        Catalogue.from_pairs(["profile=file:///etc/passwd"])


def call(service: str, path: str, **kwargs: object) -> BackendRequest:
    return BackendRequest(service=service, method="GET", path=path, **kwargs)  # type: ignore[arg-type]


async def test_batch_of_three_200ms_calls_waits_for_the_slowest_not_the_sum(
    example_backend: str,
) -> None:
    gateway = BackendGateway(Catalogue([Service("profile", f"{example_backend}/profile")]))
    try:
        requests = [call("profile", "/users/42?delay_ms=200") for _ in range(3)]
        started = time.monotonic()
        results = await gateway.call_batch(
            requests, allowed=None, deadline=time.monotonic() + 5, concurrency=8
        )
        elapsed = time.monotonic() - started
    finally:
        await gateway.aclose()
    assert [outcome.status for outcome, _ in results if isinstance(outcome, BackendResponse)] == [
        200,
        200,
        200,
    ]
    assert elapsed < 0.45, f"three 200 ms calls took {elapsed:.3f} s: not concurrent"


async def test_typed_errors_for_every_way_a_call_can_fail(example_backend: str) -> None:
    catalogue = Catalogue(
        [
            Service("profile", f"{example_backend}/profile", timeout_ms=100),
            Service("secret", f"{example_backend}/profile"),
            Service("down", "http://127.0.0.1:1/x"),
            Service("tiny", f"{example_backend}", max_response_bytes=10),
        ]
    )
    gateway = BackendGateway(catalogue)
    deadline = time.monotonic() + 5
    try:
        cases = {
            BackendErrorKind.UNKNOWN_SERVICE: call("nope", "/"),
            BackendErrorKind.NOT_ALLOWED: call("secret", "/users/42"),
            BackendErrorKind.TIMEOUT: call("profile", "/users/42?delay_ms=500"),
            BackendErrorKind.UNAVAILABLE: call("down", "/"),
            BackendErrorKind.BAD_RESPONSE: call("tiny", "/bytes/1000"),
        }
        for kind, request in cases.items():
            outcome, record = await gateway.call(
                request, allowed=frozenset({"profile", "down", "tiny"}), deadline=deadline
            )
            assert isinstance(outcome, BackendError), kind
            assert outcome.kind is kind
            assert record.error is kind
    finally:
        await gateway.aclose()


async def test_a_call_never_outlives_the_request_deadline(example_backend: str) -> None:
    gateway = BackendGateway(Catalogue([Service("profile", f"{example_backend}/profile")]))
    try:
        started = time.monotonic()
        outcome, _ = await gateway.call(
            call("profile", "/users/42?delay_ms=1000"), allowed=None, deadline=started + 0.15
        )
    finally:
        await gateway.aclose()
    assert isinstance(outcome, BackendError)
    assert outcome.kind is BackendErrorKind.TIMEOUT
    assert time.monotonic() - started < 0.5


async def test_service_status_codes_are_responses_not_errors(example_backend: str) -> None:
    gateway = BackendGateway(Catalogue([Service("profile", f"{example_backend}/profile")]))
    try:
        outcome, _ = await gateway.call(
            call("profile", "/users/999"), allowed=None, deadline=time.monotonic() + 5
        )
    finally:
        await gateway.aclose()
    assert isinstance(outcome, BackendResponse)
    assert outcome.status == 404
    assert ("content-type", "application/json") in outcome.headers
