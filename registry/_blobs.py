"""Modules and precompiled artifacts as files: written atomically, checked on every read.

Both are immutable per key, so files need no locking between processes: a
writer renames a complete temporary file into place, and a reader sees either
no file or a whole one. Blocking calls: run them off the event loop.

Layout under the root:
    modules/ab/<sha256>.wasm            named by the sha256 of its bytes
    artifacts/ab/<module>.<fingerprint>.cwasm
        a header line `scripthost-artifact sha256:<hex>` then the artifact
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from registry.errors import CorruptBlob, NotFound, RegistryUnavailable

_ARTIFACT_MAGIC = b"scripthost-artifact sha256:"
_HEADER_LENGTH = len(_ARTIFACT_MAGIC) + 64 + 1


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def module_path(self, module_hash: str) -> Path:
        return self.root / "modules" / module_hash[:2] / f"{module_hash}.wasm"

    def artifact_path(self, module_hash: str, fingerprint: str) -> Path:
        return self.root / "artifacts" / module_hash[:2] / f"{module_hash}.{fingerprint}.cwasm"

    def put_module(self, data: bytes) -> str:
        module_hash = sha256_hex(data)
        path = self.module_path(module_hash)
        with _io_errors():
            if not self._module_intact(path, module_hash):
                _write_atomically(path, [data])
        return module_hash

    def get_module(self, module_hash: str) -> bytes:
        path = self.module_path(module_hash)
        with _io_errors():
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                raise NotFound(f"no module {module_hash}") from None
        if sha256_hex(data) != module_hash:
            raise CorruptBlob(f"module {module_hash} is damaged; upload it again to repair it")
        return data

    def has_module(self, module_hash: str) -> bool:
        return self.module_path(module_hash).is_file()

    def put_artifact(self, module_hash: str, fingerprint: str, data: bytes) -> None:
        header = _ARTIFACT_MAGIC + sha256_hex(data).encode() + b"\n"
        with _io_errors():
            _write_atomically(self.artifact_path(module_hash, fingerprint), [header, data])

    def get_artifact(self, module_hash: str, fingerprint: str) -> bytes | None:
        path = self.artifact_path(module_hash, fingerprint)
        with _io_errors():
            try:
                with path.open("rb") as file:
                    header = file.read(_HEADER_LENGTH)
                    data = file.read()
                    inode = os.fstat(file.fileno()).st_ino
            except FileNotFoundError:
                return None
            if _artifact_digest(header) == sha256_hex(data):
                return data
            _drop_if_same_file(path, inode)
        raise CorruptBlob(f"artifact of {module_hash} for {fingerprint} is damaged; dropped it")

    def has_artifact(self, module_hash: str, fingerprint: str) -> bool:
        return self.artifact_path(module_hash, fingerprint).is_file()

    @staticmethod
    def _module_intact(path: Path, module_hash: str) -> bool:
        try:
            return sha256_hex(path.read_bytes()) == module_hash
        except FileNotFoundError:
            return False


def _artifact_digest(header: bytes) -> str | None:
    if len(header) != _HEADER_LENGTH or not header.startswith(_ARTIFACT_MAGIC):
        return None
    return header[len(_ARTIFACT_MAGIC) : -1].decode("ascii", errors="replace")


def _drop_if_same_file(path: Path, inode: int) -> None:
    # Another process may have just renamed a good artifact into place: keep that one.
    try:
        if path.stat().st_ino == inode:
            path.unlink()
    except FileNotFoundError:
        pass


def _write_atomically(path: Path, chunks: Iterable[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.partial")
    try:
        with partial.open("wb") as file:
            for chunk in chunks:
                file.write(chunk)
            file.flush()
            os.fsync(file.fileno())
        partial.replace(path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextmanager
def _io_errors() -> Iterator[None]:
    try:
        yield
    except OSError as error:
        raise RegistryUnavailable(f"blob storage failed: {error}") from error
