"""Script bundles: the file format the SDKs write and the host reads (abi/README.md#bundles).

    SCRIPTHOST-BUNDLE 1
    {"runtime": {"language", "sdk", "abi", "sha256"}, "entry": ..., "files": [...]}
    <payload: the rest of the file, UTF-8, handed to the runtime as it is>

The header line is all the host reads: which runtime runs the bundle (by the
SHA-256 of its component, so a name always means the same bytes) and what
the bundle holds. The payload belongs to the runtime.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from host.errors import HostError

BUNDLE_FORMAT = 1
_MAGIC = "SCRIPTHOST-BUNDLE "
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ABI_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
RUNTIME_LANGUAGES = frozenset({"js", "python"})
# The header is small; a bound keeps a hostile one from costing much to read.
_MAX_HEADER_BYTES = 64 * 1024


class InvalidBundle(HostError, ValueError):
    """Not a bundle this host can read."""

    status = 422
    code = "invalid_bundle"


class UnsupportedBundle(InvalidBundle):
    """A bundle made for a newer host: a format or an ABI version it does not know."""

    code = "unsupported_bundle"


@dataclass(frozen=True, slots=True)
class RuntimeRef:
    language: str
    sdk: str
    abi: str
    sha256: str

    def describe(self) -> str:
        return f"the {self.language} runtime of SDK {self.sdk} (sha256 {self.sha256[:12]}...)"


@dataclass(frozen=True, slots=True)
class Bundle:
    runtime: RuntimeRef
    entry: str
    files: tuple[str, ...]
    payload: str
    bundle_hash: str


def parse_bundle(data: bytes, abi_version: str) -> Bundle:
    """Read a bundle; InvalidBundle (or UnsupportedBundle) when this host cannot run it.

    `abi_version` is the ABI the host provides: a runtime needing a newer one
    is refused here, before anything else looks at the bundle.
    """
    first, _, rest = data.partition(b"\n")
    if not first.startswith(_MAGIC.encode()):
        raise InvalidBundle("not a scripthost bundle (bad first line)")
    version = first[len(_MAGIC) :].decode("ascii", errors="replace")
    if version != str(BUNDLE_FORMAT):
        raise UnsupportedBundle(
            f"bundle format {version!r} is not one this host reads ({BUNDLE_FORMAT}); "
            "build it with this host's SDK"
        )
    header_line, newline, payload = rest.partition(b"\n")
    if not newline or len(header_line) > _MAX_HEADER_BYTES:
        raise InvalidBundle("the bundle has no header line")
    try:
        header = json.loads(header_line)
        text = payload.decode("utf-8")
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidBundle(f"the bundle is damaged: {error}") from None
    runtime = _runtime_ref(header.get("runtime") if isinstance(header, dict) else None)
    _check_abi(runtime, abi_version)
    entry, files = header.get("entry"), header.get("files")
    if not isinstance(entry, str) or not _strings(files):
        raise InvalidBundle("the bundle header needs `entry` (a file) and `files` (a list)")
    return Bundle(runtime, entry, tuple(files), text, hashlib.sha256(data).hexdigest())


def _runtime_ref(document: Any) -> RuntimeRef:
    if not isinstance(document, dict) or not all(
        isinstance(document.get(key), str) for key in ("language", "sdk", "abi", "sha256")
    ):
        raise InvalidBundle("the bundle header must name its runtime: language, sdk, abi, sha256")
    runtime = RuntimeRef(document["language"], document["sdk"], document["abi"], document["sha256"])
    if runtime.language not in RUNTIME_LANGUAGES:
        raise UnsupportedBundle(f"no runtime for language {runtime.language!r} on this host")
    if not _SHA256.match(runtime.sha256):
        raise InvalidBundle("a runtime is named by the SHA-256 of its component (64 hex digits)")
    return runtime


def _check_abi(runtime: RuntimeRef, provided: str) -> None:
    wanted, have = _ABI_VERSION.match(runtime.abi), _ABI_VERSION.match(provided)
    assert have is not None
    if wanted is None:
        raise InvalidBundle(f"the runtime's ABI version {runtime.abi!r} is not a version")
    # Within 0.x, the minor version breaks compatibility; patches only add.
    same_line = wanted.group(1, 2) == have.group(1, 2)
    if not same_line or int(wanted.group(3)) > int(have.group(3)):
        raise UnsupportedBundle(
            f"{runtime.describe()} needs ABI {runtime.abi}; this host provides {provided}"
        )


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)
