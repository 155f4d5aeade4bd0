"""Choosing an implementation from a registry URL."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import unquote, urlsplit

from registry.base import Registry
from registry.errors import InvalidRegistryURL
from registry.sqlite import SQLiteRegistry

Opener = Callable[[str, Path], Awaitable[Registry]]


async def open_registry(url: str | None, data_dir: Path | str) -> Registry:
    """Open the registry `url` names; None (or "") is SQLite in `data_dir`.

    `sqlite:///abs/path.db` (as in file URLs, the path after the host part) or
    `sqlite:relative/path.db`; blobs go in `registry-blobs/` beside the file.
    """
    data_dir = Path(data_dir)
    if not url:
        return await SQLiteRegistry.in_data_dir(data_dir)
    scheme = urlsplit(url).scheme.lower()
    opener = _OPENERS.get(scheme)
    if opener is None:
        known = ", ".join(f"{name}://" for name in sorted(_OPENERS))
        raise InvalidRegistryURL(f"unsupported registry URL {url!r}: use one of {known}")
    return await opener(url, data_dir)


async def _open_sqlite(url: str, data_dir: Path) -> Registry:
    parts = urlsplit(url)
    if parts.netloc or parts.query or parts.fragment:
        raise InvalidRegistryURL(
            f"{url!r}: a SQLite URL is sqlite:///absolute/path or sqlite:relative/path"
        )
    if not parts.path:
        return await SQLiteRegistry.in_data_dir(data_dir)
    return await SQLiteRegistry.open(Path(unquote(parts.path)))


async def _open_cassandra(url: str, data_dir: Path) -> Registry:
    from registry.cassandra import CassandraRegistry

    return await CassandraRegistry.open(url)


# The seam for other implementations: map a URL scheme to an opener, importing
# the implementation inside the opener so its driver is only needed when used.
_OPENERS: dict[str, Opener] = {
    "sqlite": _open_sqlite,
    "cassandra": _open_cassandra,
}
