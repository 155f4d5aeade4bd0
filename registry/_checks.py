"""Argument rules, change rules and encodings shared by every implementation, so they all
refuse, record and store the same things."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import cast

from registry.errors import NotFound, QuotaExceeded
from registry.models import (
    LANGUAGES,
    Action,
    Details,
    Language,
    NamespaceSettings,
    Quotas,
    Version,
    redacted_spec,
)

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_FINGERPRINT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_VERSION_ID = re.compile(r"^v([1-9][0-9]{0,17})$")
_SERVICE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
MAX_SERVICE_SPEC_BYTES = 64 * 1024


def name(value: str, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{what} must be a non-empty string")
    return value


def target(namespace: str, path: str) -> tuple[str, str]:
    return name(namespace, "namespace"), name(path, "path")


def actor(value: str) -> str:
    return name(value, "actor")


def methods(values: Iterable[str]) -> frozenset[str]:
    if isinstance(values, str):
        raise ValueError("methods must be a collection of method names, not one string")
    upper = frozenset(name(value, "a method").upper() for value in values)
    if not upper:
        raise ValueError("an endpoint needs at least one method")
    return upper


def config(values: Mapping[str, str] | None) -> dict[str, str]:
    checked = dict(values or {})
    for key, value in checked.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ValueError("config maps strings to strings")
    return checked


def quotas(values: Quotas) -> dict[str, int]:
    checked = dict(values)
    for key, value in checked.items():
        name(key, "a quota name")
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"quota {key!r} must be an integer, got {value!r}")
    return checked


def language(value: str) -> Language:
    if value not in LANGUAGES:
        raise ValueError(f"language must be one of {sorted(LANGUAGES)}, got {value!r}")
    return cast(Language, value)


def module_hash(value: str) -> str:
    if not isinstance(value, str) or not _SHA256_HEX.match(value):
        raise ValueError(f"a module hash is 64 lower-case hex digits, got {value!r}")
    return value


def optional_runtime(value: str | None) -> tuple[str, ...]:
    """The runtime a version names, checked: () when it names none."""
    return () if value is None else (module_hash(value),)


def version_details(version: Version) -> dict[str, object]:
    """What the audit log records about a version added."""
    details: dict[str, object] = {
        "version": version.id,
        "language": version.language,
        "module_hash": version.module_hash,
        "message": version.message,
    }
    if version.runtime is not None:
        details["runtime"] = version.runtime
    return details


def activation_details(version: Version, previous: int | None) -> dict[str, object]:
    """What the audit log records of an activation: the version, the one before, a rollback."""
    number = version_number(version.id)
    return {
        "version": version.id,
        "module_hash": version.module_hash,
        "previous": None if previous is None else version_id(previous),
        "rollback": previous is not None and number < previous,
    }


def namespace_change(
    current: NamespaceSettings, enabled: bool | None, quotas: dict[str, int] | None
) -> tuple[NamespaceSettings, Action, Details] | None:
    """A namespace's new settings and the event that records them; None if nothing changes."""
    wanted = NamespaceSettings(
        current.namespace,
        current.enabled if enabled is None else enabled,
        current.quotas if quotas is None else quotas,
    )
    if wanted == current:
        return None
    if quotas is not None:
        return (
            wanted,
            Action.NAMESPACE_QUOTAS_SET,
            {"quotas": quotas, "previous": dict(current.quotas)},
        )
    action = Action.NAMESPACE_ENABLED if wanted.enabled else Action.NAMESPACE_DISABLED
    return wanted, action, {}


def fingerprint(value: str) -> str:
    if not isinstance(value, str) or not _FINGERPRINT.match(value):
        raise ValueError(
            f"a fingerprint is 1-128 letters, digits or '._-' (not first), got {value!r}"
        )
    return value


def version_number(version_id: str) -> int:
    """`v7` -> 7; anything else names no version."""
    match = _VERSION_ID.match(version_id) if isinstance(version_id, str) else None
    if match is None:
        raise NotFound(f"no version {version_id!r}")
    return int(match.group(1))


def version_id(number: int) -> str:
    return f"v{number}"


def positive(value: float, what: str) -> float:
    if not value > 0:
        raise ValueError(f"{what} must be positive, got {value!r}")
    return value


def limit(value: int | None, what: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"{what} must be a non-negative integer or None, got {value!r}")
    return value


def room_for_endpoint(namespace: str, existing: int, max_endpoints: int) -> None:
    if existing >= max_endpoints:
        raise QuotaExceeded(f"namespace {namespace!r} may have at most {max_endpoints} endpoints")


def service_name(value: str) -> str:
    if not isinstance(value, str) or not _SERVICE_NAME.match(value):
        raise ValueError(
            f"a service name is 1-63 lower-case letters, digits, '_' or '-', got {value!r}"
        )
    return value


def service_spec(spec: Mapping[str, object]) -> tuple[dict[str, object], str]:
    """The spec as a plain JSON object and its canonical encoding (what is stored)."""
    if not isinstance(spec, Mapping):
        raise ValueError("a service spec is a JSON object")
    try:
        encoded = json.dumps(dict(spec), sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"a service spec must be JSON: {error}") from None
    if len(encoded.encode()) > MAX_SERVICE_SPEC_BYTES:
        raise ValueError(f"a service spec is at most {MAX_SERVICE_SPEC_BYTES} bytes of JSON")
    decoded: dict[str, object] = json.loads(encoded)
    return decoded, encoded


def service_details(
    name: str, spec: Mapping[str, object], previous: Mapping[str, object] | None
) -> dict[str, object]:
    """What the audit log records of a service change: never the values of its headers."""
    details: dict[str, object] = {"service": name, "spec": redacted_spec(spec)}
    if previous is not None:
        details["previous"] = redacted_spec(previous)
    return details


def encoded(value: object) -> str:
    """JSON as every implementation stores it: keys sorted, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def stamp() -> str:
    """Now, as every implementation stores a time."""
    return datetime.now(UTC).isoformat()


def moment(stored: str) -> datetime:
    return datetime.fromisoformat(stored)
