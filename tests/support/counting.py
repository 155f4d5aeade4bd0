"""What the example backend says it received (`GET /_calls`): how tests count backend calls."""

from __future__ import annotations

import httpx


def received(base: str, path: str) -> int:
    """How many requests the example backend at `base` got for `path` (with its query)."""
    counts: dict[str, int] = httpx.get(f"{base}/_calls").raise_for_status().json()
    return counts.get(path, 0)


def received_under(base: str, prefix: str) -> int:
    """How many requests it got for paths starting with `prefix`."""
    counts: dict[str, int] = httpx.get(f"{base}/_calls").raise_for_status().json()
    return sum(count for path, count in counts.items() if path.startswith(prefix))
