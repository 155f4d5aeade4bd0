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
from tests.support.recording import Received, recording_backend

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


async def test_a_batch_runs_its_calls_at_once_and_answers_in_order() -> None:
    # The service answers only once all three calls are in flight together (or
    # after a patience far beyond the request's deadline): calls made one
    # after another would end in timeouts.
    with recording_backend({"ok": True}, gather=3, patience=30.0) as service:
        gateway = BackendGateway(Catalogue([Service("svc", service.url)]))
        try:
            requests = [call("svc", f"/item/{n}") for n in range(3)]
            results = await gateway.call_batch(
                requests, allowed=None, deadline=time.monotonic() + 10, concurrency=8
            )
        finally:
            await gateway.aclose()
    assert [record.path for _, record in results] == ["/item/0", "/item/1", "/item/2"]
    assert [getattr(outcome, "status", outcome) for outcome, _ in results] == [200, 200, 200]
    assert service.max_in_flight == 3


async def test_a_batch_keeps_to_its_concurrency_limit() -> None:
    # Each call waits briefly for a third to join it; with a limit of two, none ever does.
    with recording_backend({"ok": True}, gather=3, patience=0.2) as service:
        gateway = BackendGateway(Catalogue([Service("svc", service.url)]))
        try:
            results = await gateway.call_batch(
                [call("svc", f"/item/{n}") for n in range(5)],
                allowed=None,
                deadline=time.monotonic() + 30,
                concurrency=2,
            )
        finally:
            await gateway.aclose()
    assert [getattr(outcome, "status", outcome) for outcome, _ in results] == [200] * 5
    assert len(service.received) == 5
    assert service.max_in_flight == 2


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
async def test_idempotent_calls_are_retried_when_the_service_resets(method: str) -> None:
    with recording_backend({"ok": True}, reset_first=2) as service:
        gateway = BackendGateway(Catalogue([Service("flaky", service.url, retries=2)]))
        try:
            outcome, record = await gateway.call(
                BackendRequest("flaky", method, "/x"), allowed=None, deadline=time.monotonic() + 10
            )
        finally:
            await gateway.aclose()
    assert isinstance(outcome, BackendResponse)
    assert (outcome.status, record.error) == (200, None)
    assert service.received == [Received(method, "/x")] * 3


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_other_calls_are_sent_once(method: str) -> None:
    with recording_backend({"ok": True}, reset_first=1) as service:
        gateway = BackendGateway(Catalogue([Service("flaky", service.url, retries=2)]))
        try:
            outcome, _ = await gateway.call(
                BackendRequest("flaky", method, "/x"), allowed=None, deadline=time.monotonic() + 10
            )
        finally:
            await gateway.aclose()
    assert isinstance(outcome, BackendError)
    assert outcome.kind is BackendErrorKind.UNAVAILABLE
    assert service.received == [Received(method, "/x")]


async def test_retries_stop_at_the_service_limit() -> None:
    with recording_backend({"ok": True}, reset_first=5) as service:
        gateway = BackendGateway(Catalogue([Service("flaky", service.url, retries=2)]))
        try:
            outcome, _ = await gateway.call(
                call("flaky", "/x"), allowed=None, deadline=time.monotonic() + 10
            )
        finally:
            await gateway.aclose()
    assert isinstance(outcome, BackendError)
    assert outcome.kind is BackendErrorKind.UNAVAILABLE
    assert len(service.received) == 3


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


async def test_a_call_never_outlives_the_request_deadline() -> None:
    # The service holds the call far beyond the deadline; the call must give
    # up while the service still holds it, not when it finally answers. The
    # deadline leaves a loaded machine ample time to deliver the call.
    with recording_backend({"ok": True}) as service:
        service.hold()
        gateway = BackendGateway(Catalogue([Service("slow", service.url, timeout_ms=60_000)]))
        try:
            outcome, _ = await gateway.call(
                call("slow", "/x"), allowed=None, deadline=time.monotonic() + 2.0
            )
            still_held = service.in_flight
        finally:
            await gateway.aclose()
    assert isinstance(outcome, BackendError)
    assert outcome.kind is BackendErrorKind.TIMEOUT
    assert still_held == 1


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


async def test_a_script_is_handed_no_header_about_the_connection() -> None:
    sent = [
        ("Connection", "keep-alive, X-Route-Hint"),
        ("Keep-Alive", "timeout=5"),
        ("X-Route-Hint", "edge-7"),
        ("X-Request-Cost", "3"),
    ]
    with recording_backend({"ok": True}, headers=sent) as service:
        gateway = BackendGateway(Catalogue([Service("svc", service.url)]))
        try:
            outcome, _ = await gateway.call(
                call("svc", "/x"), allowed=None, deadline=time.monotonic() + 10
            )
        finally:
            await gateway.aclose()
    assert isinstance(outcome, BackendResponse)
    names = {name for name, _ in outcome.headers}
    assert {"content-type", "x-request-cost"} <= names
    assert not names & {"connection", "keep-alive", "x-route-hint", "content-length"}
