"""Namespace and endpoint path rules: what may appear in a device URL."""

from __future__ import annotations

import re

from host.device import RESERVED_NAMESPACES
from host.errors import HostError

_NAMESPACE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]{0,63}$")
MAX_PATH_LENGTH = 256


class BadEndpointName(HostError):
    status = 400
    code = "bad_endpoint_name"


def check_namespace(namespace: str) -> str:
    if not _NAMESPACE.match(namespace):
        raise BadEndpointName(
            "a namespace is 1-63 lower-case letters, digits or '-', starting with a letter or digit"
        )
    if namespace in RESERVED_NAMESPACES:
        raise BadEndpointName(f"namespace {namespace!r} is reserved by the host")
    return namespace


def normalise_path(path: str) -> str:
    """`home/feed` or `/home/feed/` -> `/home/feed`; refuse anything else."""
    segments = path.strip("/").split("/")
    if len(path) > MAX_PATH_LENGTH or not segments or segments == [""]:
        raise BadEndpointName(f"an endpoint path is 1-{MAX_PATH_LENGTH} characters")
    for segment in segments:
        if segment in {".", ".."} or not _SEGMENT.match(segment):
            raise BadEndpointName(
                f"path segment {segment!r} is not allowed: use letters, digits and . _ ~ -"
            )
    return "/" + "/".join(segments)
