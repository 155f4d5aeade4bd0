import pytest
from scripthost_sdk import BackendError, BackendRequest, BackendResponse, backend
from scripthost_sdk.testing import FakeHost


def test_get_sends_a_get_with_normalised_headers(host: FakeHost) -> None:
    host.handler = lambda call: BackendResponse(200, [("content-type", "text/plain")], b"hi")
    response = backend.get("profile", "/users/42", headers={"X-Trace": "1"}, timeout_ms=50)
    assert response.ok
    assert response.text() == "hi"
    assert response.header("Content-Type") == "text/plain"
    assert host.calls == [
        BackendRequest("profile", "/users/42", "GET", [("x-trace", "1")], b"", 50)
    ]


def test_post_encodes_a_text_body(host: FakeHost) -> None:
    host.handler = lambda call: BackendResponse(201, body=b'{"id": 1}')
    assert backend.post("orders", "/orders", '{"q": "ü"}').json() == {"id": 1}
    assert host.calls[0].method == "POST"
    assert host.calls[0].body == '{"q": "ü"}'.encode()


def test_a_service_status_is_a_response_not_an_error(host: FakeHost) -> None:
    host.handler = lambda call: BackendResponse(404)
    assert not backend.get("profile", "/users/1").ok


def test_fetch_raises_the_typed_error(host: FakeHost) -> None:
    with pytest.raises(BackendError) as raised:
        backend.get("nosuch", "/")
    assert raised.value.kind == "unknown-service"
    assert str(raised.value).startswith("unknown-service: ")


def test_batch_returns_errors_in_order_without_raising(host: FakeHost) -> None:
    down = BackendError("unavailable", "connection refused")
    host.backends = {("a", "/1"): BackendResponse(200), ("b", "/2"): down}
    results = backend.batch([backend.request("a", "/1"), backend.request("b", "/2")])
    assert results == [BackendResponse(200), down]
    assert len(host.batches) == 1


def test_empty_batch_makes_no_host_call(host: FakeHost) -> None:
    assert backend.batch([]) == []
    assert host.batches == []


@pytest.mark.parametrize("timeout_ms", [-1, 2**32])
def test_timeout_must_fit_the_abi(timeout_ms: int) -> None:
    with pytest.raises(ValueError, match="timeout_ms"):
        backend.request("a", "/", timeout_ms=timeout_ms)


def test_query_is_encoded_onto_the_path(host: FakeHost) -> None:
    host.handler = lambda call: BackendResponse(200)
    backend.get("search", "/find?lang=en", query={"q": "a b&c", "page": 2})
    backend.get("search", "/all", query=[("id", "1"), ("id", "2")])
    backend.get("search", "/none", query={})
    assert [call.path for call in host.calls] == [
        "/find?lang=en&q=a+b%26c&page=2",
        "/all?id=1&id=2",
        "/none",
    ]


def test_json_is_sent_as_a_json_body(host: FakeHost) -> None:
    host.handler = lambda call: BackendResponse(201)
    backend.post("orders", "/orders", json={"item": "ü", "n": [1, 2]})
    backend.post("orders", "/raw", json=None, headers={"Content-Type": "application/x-ndjson"})
    first, second = host.calls
    assert first.body == '{"item":"ü","n":[1,2]}'.encode()
    assert first.headers == [("content-type", "application/json")]
    assert second.body == b"null"
    assert second.headers == [("content-type", "application/x-ndjson")]


def test_body_and_json_together_are_refused() -> None:
    with pytest.raises(ValueError, match="either body or json"):
        backend.request("orders", "/orders", method="POST", body="x", json={})
