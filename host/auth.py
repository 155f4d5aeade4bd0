"""Bearer tokens: a token belongs to a team (with its namespaces), an admin or a scraper.

Tokens live in a JSON file given by `--tokens FILE`:

    {"tokens": [
        {"name": "tv-team", "token": "...", "namespaces": ["tv"]},
        {"name": "api-team", "token": "...", "admin": true},
        {"name": "prometheus", "token": "...", "scrape": true}
    ]}

A team token sees and changes its own namespaces only; an admin token
everything. A scrape token reads every namespace's metrics at `/metrics`
and nothing else. `SCRIPTHOST_ADMIN_TOKEN` adds a bootstrap admin named
`bootstrap-admin`.
Only SHA-256 digests are kept in memory, and a presented token is compared
against every digest in constant time, so neither the comparison nor the
position of a match in the file leaks through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling the management API."""

    name: str
    admin: bool = False
    namespaces: frozenset[str] = field(default_factory=frozenset)
    scrape: bool = False

    def may_touch(self, namespace: str) -> bool:
        return self.admin or namespace in self.namespaces

    @property
    def sees_all_metrics(self) -> bool:
        return self.admin or self.scrape


class TokenFileError(ValueError):
    """The tokens file cannot be read or has the wrong shape."""


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenBook:
    def __init__(self, entries: Iterable[tuple[str, Principal]] = ()) -> None:
        self._entries = [(_digest(token), principal) for token, principal in entries]

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, presented: str) -> Principal | None:
        candidate = _digest(presented)
        found: Principal | None = None
        for digest, principal in self._entries:
            if hmac.compare_digest(candidate, digest) and found is None:
                found = principal
        return found

    @classmethod
    def load(cls, path: Path | None, bootstrap_admin_token: str | None) -> TokenBook:
        entries: list[tuple[str, Principal]] = []
        if path is not None:
            entries.extend(_read_token_file(path))
        if bootstrap_admin_token:
            entries.append((bootstrap_admin_token, Principal("bootstrap-admin", admin=True)))
        return cls(entries)


def _read_token_file(path: Path) -> list[tuple[str, Principal]]:
    try:
        document = json.loads(path.read_text())
        return [_entry(item) for item in document["tokens"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise TokenFileError(f"{path}: {error}") from error


def _entry(item: Mapping[str, object]) -> tuple[str, Principal]:
    token, name = item["token"], item["name"]
    if not isinstance(token, str) or len(token) < 16 or not isinstance(name, str):
        raise TokenFileError(f"token entries need a name and a token of 16+ characters: {name!r}")
    namespaces = item.get("namespaces", [])
    if not isinstance(namespaces, list):
        raise TokenFileError(f"namespaces of {name!r} must be a list")
    admin, scrape = item.get("admin", False) is True, item.get("scrape", False) is True
    return token, Principal(
        name=name, admin=admin, namespaces=frozenset(map(str, namespaces)), scrape=scrape
    )


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()
