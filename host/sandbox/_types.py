"""What goes into a sandbox run and what comes out."""

from __future__ import annotations

from dataclasses import dataclass, field

from host.backends import BackendCallRecord, Headers
from host.failures import FailureClass
from host.sandbox._abi import GuestLogLine, TraceEntry


@dataclass(frozen=True, slots=True)
class ScriptRequest:
    method: str
    path: str
    query: str = ""
    headers: Headers = field(default_factory=list)
    body: bytes = b""
    endpoint: str = ""
    version: str = ""
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class ScriptResponse:
    status: int
    headers: Headers
    body: bytes


@dataclass(frozen=True, slots=True)
class RunResult:
    """The outcome of one request: a response, or exactly one failure class."""

    response: ScriptResponse | None
    failure: FailureClass | None
    failure_message: str
    # The guest's own account of a failure: its exception message and stack.
    guest_detail: str
    fuel_used: int
    peak_memory_bytes: int | None
    wall_ms: float
    backend_calls: list[BackendCallRecord]
    logs: list[GuestLogLine]
    trace: list[TraceEntry]

    @property
    def outcome(self) -> str:
        return "ok" if self.failure is None else self.failure.value

    @property
    def status(self) -> int:
        if self.response is not None:
            return self.response.status
        assert self.failure is not None
        return self.failure.http_status
