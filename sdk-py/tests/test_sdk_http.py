import pytest
from scripthost_sdk import Request, Response, json_response, text_response


def test_params_keep_the_first_value_and_blank_values() -> None:
    request = Request(query="user=42&tab=&user=7&q=a%20b")
    assert request.params == {"user": "42", "tab": "", "q": "a b"}


def test_header_lookup_ignores_case_and_returns_the_first() -> None:
    request = Request(headers=[("accept", "a"), ("accept", "b")])
    assert request.header("Accept") == "a"
    assert request.header("x-missing") is None


def test_text_and_json_decode_the_body() -> None:
    request = Request(body=b'{"n": 1}')
    assert request.text() == '{"n": 1}'
    assert request.json() == {"n": 1}
    assert Request(body=b"\xff").text() == "\ufffd"
    with pytest.raises(ValueError, match="Expecting value"):
        Request(body=b"not json").json()


def test_json_response_is_compact_utf8_json() -> None:
    response = json_response({"greeting": "Grüß", "n": [1]}, status=201, headers={"X-A": "1"})
    assert response == Response(
        201,
        [("content-type", "application/json"), ("x-a", "1")],
        '{"greeting":"Grüß","n":[1]}'.encode(),
    )


def test_own_content_type_wins() -> None:
    response = json_response([], headers=[("Content-Type", "application/problem+json")])
    assert response.headers == [("content-type", "application/problem+json")]


def test_text_response() -> None:
    response = text_response("hi", status=404)
    assert (response.status, response.body) == (404, b"hi")
    assert response.headers == [("content-type", "text/plain; charset=utf-8")]
