"""What management API input may be: the bounds request bodies are validated against.

Everything an admin or a team sends is stored, copied into every host's
route table and audit log, and shown in the console, so each piece has a
size, a character set and, for numbers, a range (quotas: `host.quota_spec`).
A body outside them is refused with 400 before anything is stored.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

from host.device import DEVICE_METHODS

MAX_CONFIG_ENTRIES = 100
MAX_CONFIG_KEY_CHARS = 128
MAX_CONFIG_VALUE_BYTES = 16 * 1024
MAX_CONFIG_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 4 * 1024
MAX_SOURCE_BYTES = 1 << 20

_CONFIG_KEY = re.compile(rf"^[A-Za-z0-9_.:-]{{1,{MAX_CONFIG_KEY_CHARS}}}$")
# Control characters other than tab and line breaks: nothing a config value
# or a message needs, and what would rewrite a terminal that shows it.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _method(value: str) -> str:
    method = value.upper()
    if method not in DEVICE_METHODS:
        raise ValueError(f"a method is one of {', '.join(DEVICE_METHODS)}")
    return method


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    return value


def _config_key(key: str) -> str:
    if not _CONFIG_KEY.match(key):
        raise ValueError(f"a config key is 1-{MAX_CONFIG_KEY_CHARS} letters, digits or '_.:-'")
    return key


def _config_value(value: str) -> str:
    if len(value.encode()) > MAX_CONFIG_VALUE_BYTES:
        raise ValueError(f"a config value is at most {MAX_CONFIG_VALUE_BYTES} bytes")
    return _printable(value)


def _config(config: dict[str, str]) -> dict[str, str]:
    size = sum(len(key.encode()) + len(value.encode()) for key, value in config.items())
    if size > MAX_CONFIG_BYTES:
        raise ValueError(f"config keys and values add up to at most {MAX_CONFIG_BYTES} bytes")
    return config


Method = Annotated[str, Field(max_length=16), AfterValidator(_method)]
ConfigKey = Annotated[str, Field(max_length=MAX_CONFIG_KEY_CHARS), AfterValidator(_config_key)]
ConfigValue = Annotated[
    str, Field(max_length=MAX_CONFIG_VALUE_BYTES), AfterValidator(_config_value)
]
Config = Annotated[
    dict[ConfigKey, ConfigValue],
    Field(max_length=MAX_CONFIG_ENTRIES),
    AfterValidator(_config),
]
Message = Annotated[str, Field(max_length=MAX_MESSAGE_CHARS), AfterValidator(_printable)]
Source = Annotated[str, Field(max_length=MAX_SOURCE_BYTES)]
VersionName = Annotated[str, Field(max_length=32)]
NamespaceName = Annotated[str, Field(max_length=64)]
