"""A script's response headers count against its output quota, as its body does.

Headers are chosen by the script, and each one costs the event loop that
turns it into a response (and every proxy and device after it). So the
response-size quota (`response_bytes`) covers headers and body together, and
however large that quota, a response carries at most `MAX_RESPONSE_HEADERS`
headers of at most `MAX_RESPONSE_HEADER_BYTES` in all. A response past any of
them ends as 502 `output_exceeded` before the host builds anything from it.
"""

from __future__ import annotations

import dataclasses

from host.failures import FailureClass
from host.limits import KiB, Limits
from host.sandbox import RunResult, ScriptResponse

MAX_RESPONSE_HEADERS = 100
MAX_RESPONSE_HEADER_BYTES = 32 * KiB
# What a header line costs on the wire besides its name and value: ": " and CRLF.
_LINE_OVERHEAD = 4


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
    problem = output_problem(result.response, limits)
    if problem is None:
        return result
    return dataclasses.replace(
        result, response=None, failure=FailureClass.OUTPUT_EXCEEDED, failure_message=problem
    )
