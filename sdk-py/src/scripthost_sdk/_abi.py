"""The seam between the SDK and the host ABI.

Everything the SDK asks of the host goes through the one installed `Abi`. Inside a
component that is `scripthost_sdk._guest.WitAbi` (the only module that imports the
generated `wit_world` bindings, installed by the generated entry module); on the host,
tests install a fake (see `scripthost_sdk.testing.FakeHost`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from scripthost_sdk.backend import BackendError, BackendRequest, BackendResponse

LogLevel = Literal["debug", "info", "warn", "error"]
LogFields = Sequence[tuple[str, str]]


class Abi(Protocol):
    """The host's imports, in the SDK's own types."""

    def backend_call(self, request: BackendRequest) -> BackendResponse | BackendError: ...

    def backend_call_batch(
        self, requests: Sequence[BackendRequest]
    ) -> list[BackendResponse | BackendError]: ...

    def log_write(self, level: LogLevel, message: str, fields: LogFields) -> None: ...

    def config_get(self, key: str) -> str | None: ...

    def config_get_all(self) -> list[tuple[str, str]]: ...


class NoHostError(RuntimeError):
    """Raised when a script calls the host outside a component and without a fake."""


_installed: Abi | None = None


def install(abi: Abi | None) -> Abi | None:
    """Make `abi` the host the SDK talks to; returns the previous one."""
    global _installed
    previous, _installed = _installed, abi
    return previous


def current() -> Abi:
    """The installed host ABI."""
    if _installed is None:
        raise NoHostError(
            "no scripthost host: build the script with `scripthost build`, "
            "or run it under scripthost_sdk.testing.FakeHost"
        )
    return _installed
