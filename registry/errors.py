"""What can go wrong in a registry, named for what happened."""

from __future__ import annotations


class RegistryError(Exception):
    """Base of every error a registry raises on purpose."""


class NotFound(RegistryError, LookupError):
    """No endpoint, version or module by that name (or it was deleted)."""


class Conflict(RegistryError):
    """The change contradicts what is stored, or a concurrent writer won the race."""


class QuotaExceeded(RegistryError):
    """The change would pass a limit the caller set (more endpoints than a namespace may have)."""


class CorruptBlob(RegistryError):
    """A stored module or artifact no longer matches its checksum.

    A corrupt artifact is dropped when detected, so the next read finds it
    absent and the host compiles it again. A corrupt module is kept: uploading
    the same bytes again repairs it.
    """


class RegistryUnavailable(RegistryError):
    """The store cannot be reached or used right now (locked, I/O error, closed)."""


class InvalidRegistryURL(RegistryError, ValueError):
    """The registry URL names no implementation this host has."""
