"""A script's response, checked against the output limits and sent as it is.

Headers are chosen by the script, and each one costs the host that sends it
(and every proxy and device after it). So the response-size quota
(`response_bytes`) covers headers and body together, and however large that
quota, a response carries at most `MAX_RESPONSE_HEADERS` headers of at most
`MAX_RESPONSE_HEADER_BYTES` in all. A response past any of them ends as 502
`output_exceeded` before the host builds anything from it.
"""

from __future__ import annotations

import dataclasses

from host.device._asgi import RawHeaders, Send, send_error, send_response
from host.failures import FailureClass
from host.limits import KiB, Limits
from host.sandbox import RunResult, ScriptResponse

MAX_RESPONSE_HEADERS = 100
MAX_RESPONSE_HEADER_BYTES = 32 * KiB
# What a header line costs on the wire besides its name and value: ": " and CRLF.
_LINE_OVERHEAD = 4
_OWNED_BY_HOST = frozenset({"content-length", "transfer-encoding", "connection", "x-request-id"})


def output_problem(response: ScriptResponse, limits: Limits) -> str | None:
    """Why `response` is over the output limits, or None when it is within them."""
    count = len(response.headers)
    if count > MAX_RESPONSE_HEADERS:
        return f"the response has {count} headers; at most {MAX_RESPONSE_HEADERS} are allowed"
    header_bytes = sum(
        len(name.encode()) + len(value.encode()) + _LINE_OVERHEAD
        for name, value in response.headers
    )
    if header_bytes > MAX_RESPONSE_HEADER_BYTES:
        return f"the response headers passed the {MAX_RESPONSE_HEADER_BYTES}-byte limit"
    if header_bytes + len(response.body) > limits.response_bytes:
        return f"the response (headers and body) passed the {limits.response_bytes}-byte limit"
    return None


def within_output_limits(result: RunResult, limits: Limits) -> RunResult:
    """`result`, or an `output_exceeded` failure in its place when its response is too large."""
    if result.response is None:
        return result
    failure = FailureClass.OUTPUT_EXCEEDED
    problem = output_problem(result.response, limits)
    if problem is None:
        failure = FailureClass.ABI_VIOLATION
        problem = _unsendable(result.response)
    if problem is None:
        return result
    return dataclasses.replace(result, response=None, failure=failure, failure_message=problem)


def _unsendable(response: ScriptResponse) -> str | None:
    for name, value in response.headers:
        try:
            value.encode("latin-1")
        except UnicodeEncodeError:
            return f"invalid response header {name!r}: its value is not ISO-8859-1"
    return None


async def send_result(send: Send, result: RunResult, request_id: str, *, with_body: bool) -> None:
    response = result.response
    if response is None:
        assert result.failure is not None
        failure = result.failure.value
        failed = [(b"x-scripthost-failure", failure.encode())]
        await send_error(
            send,
            result.status,
            failure,
            result.failure_message,
            request_id,
            failed,
            with_body=with_body,
        )
        return
    headers: RawHeaders = [
        (name.encode(), value.strip(" \t").encode("latin-1"))
        for name, value in response.headers
        if name not in _OWNED_BY_HOST
    ]
    headers.append((b"content-length", str(len(response.body)).encode()))
    headers.append((b"x-request-id", request_id.encode()))
    await send_response(send, response.status, headers, response.body, with_body=with_body)
