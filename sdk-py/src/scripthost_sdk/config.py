"""The endpoint's configuration: string key/values set at deploy time, read-only."""

from __future__ import annotations

from typing import overload

from scripthost_sdk import _abi


@overload
def get(key: str) -> str | None: ...
@overload
def get(key: str, default: str) -> str: ...
def get(key: str, default: str | None = None) -> str | None:
    """The value of `key`, or `default` when the endpoint has no such key."""
    value = _abi.current().config_get(key)
    return default if value is None else value


def all() -> dict[str, str]:
    """Every key/value of the endpoint's configuration."""
    return dict(_abi.current().config_get_all())
