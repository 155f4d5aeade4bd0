"""The host side of the ABI: its bookkeeping, and what it refuses from a guest."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

import pytest

from host.abi import GuestLogLine, RequestContext
from host.backends import BackendGateway, Catalogue, Service
from host.build import REPO_ROOT, build_cached
from host.failures import FailureClass
from host.sandbox import CompiledModule, Limits, Sandbox, ScriptRequest
from tests.support.runs import run_once

# What a log line costs beyond its text (the request id, endpoint and time
# stored with it): without it a flood of empty lines would be free.
LINE_OVERHEAD_BYTES = 32


def context(log_bytes: int) -> RequestContext:
    return RequestContext(
        request_id="req",
        endpoint="tv/home",
        version="v1",
        limits=Limits(log_bytes=log_bytes),
        deadline=time.monotonic() + 1,
    )


def test_empty_log_lines_still_spend_the_log_budget() -> None:
    request = context(log_bytes=10 * LINE_OVERHEAD_BYTES)
    taken = [request.take_output(GuestLogLine("info", "", {})) for _ in range(11)]
    assert taken == [True] * 10 + [False]
    assert request.output_overflowed
    assert len(request.logs) == 10


def test_a_line_costs_its_text_and_fields() -> None:
    request = context(log_bytes=LINE_OVERHEAD_BYTES + 10)
    assert request.take_output(GuestLogLine("info", "12345", {"ab": "cde"}))
    assert not request.take_output(GuestLogLine("info", "", {}))


@pytest.fixture(scope="module")
def header_script() -> Path:
    return build_cached(REPO_ROOT / "tests" / "sandbox" / "scripts" / "js" / "header.js")


@pytest.mark.parametrize(
    ("value", "failure"),
    [
        ("plain", None),
        ("née", FailureClass.ABI_VIOLATION),
        ("a\r\nx-evil: 1", FailureClass.ABI_VIOLATION),
    ],
)
async def test_a_backend_header_that_is_not_valid_http_is_the_scripts_fault(
    sandbox: Sandbox,
    compile_file: Callable[[Path], CompiledModule],
    header_script: Path,
    example_backend: str,
    value: str,
    failure: FailureClass | None,
) -> None:
    gateway = BackendGateway(Catalogue([Service("profile", f"{example_backend}/profile")]))
    request = ScriptRequest("GET", "/", urlencode({"value": value}), request_id="header")
    try:
        result = await run_once(sandbox, compile_file(header_script), request, gateway=gateway)
    finally:
        await gateway.aclose()
    assert result.failure is failure, result.failure_message
    if failure is not None:
        assert "not valid HTTP" in result.failure_message
        assert result.backend_calls == []
