"""Run a script's `handle` on your own machine, against canned backends and config.

    from scripthost_sdk import Request
    from scripthost_sdk.backend import BackendError, BackendResponse
    from scripthost_sdk.testing import FakeHost

    host = FakeHost(
        config={"greeting": "Hello"},
        backends={
            ("profile", "/users/42"): BackendResponse(200, body=b'{"name": "Ada"}'),
            ("recommendations", "/for/42"): BackendError("unavailable", "down"),
        },
    )
    with host:
        response = handle(Request(path="/home", query="user=42"))
    assert host.logs[0].message == "home rendered"

No component is built: this runs the script on the host's CPython, so it checks the
script's logic, not the sandbox limits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType

from scripthost_sdk import _abi
from scripthost_sdk.backend import BackendError, BackendRequest, BackendResponse

BackendAnswer = BackendResponse | BackendError
BackendHandler = Callable[[BackendRequest], BackendAnswer]


@dataclass(frozen=True)
class LogLine:
    """One line the script logged or printed."""

    level: _abi.LogLevel
    message: str
    fields: dict[str, str]


@dataclass
class FakeHost:
    """A stand-in for the host's imports; `with host:` installs it for the SDK.

    `backends` maps `(service, path)` to an answer; `handler`, if given, answers
    everything else. Unanswered calls get `BackendError("unknown-service", ...)`.
    """

    config: Mapping[str, str] = field(default_factory=dict)
    backends: Mapping[tuple[str, str], BackendAnswer] = field(default_factory=dict)
    handler: BackendHandler | None = None
    calls: list[BackendRequest] = field(default_factory=list)
    batches: list[list[BackendRequest]] = field(default_factory=list)
    logs: list[LogLine] = field(default_factory=list)
    _previous: _abi.Abi | None = field(default=None, repr=False)

    def __enter__(self) -> FakeHost:
        self._previous = _abi.install(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _abi.install(self._previous)

    def answer(self, request: BackendRequest) -> BackendAnswer:
        canned = self.backends.get((request.service, request.path))
        if canned is not None:
            return canned
        if self.handler is not None:
            return self.handler(request)
        return BackendError("unknown-service", f"no fake answer for {request.service}")

    def backend_call(self, request: BackendRequest) -> BackendAnswer:
        self.calls.append(request)
        return self.answer(request)

    def backend_call_batch(self, requests: Sequence[BackendRequest]) -> list[BackendAnswer]:
        self.batches.append(list(requests))
        return [self.backend_call(request) for request in requests]

    def log_write(self, level: _abi.LogLevel, message: str, fields: _abi.LogFields) -> None:
        self.logs.append(LogLine(level, message, dict(fields)))

    def config_get(self, key: str) -> str | None:
        return self.config.get(key)

    def config_get_all(self) -> list[tuple[str, str]]:
        return list(self.config.items())
