"""One host process writing to a shared SQLite registry, for test_sqlite's multi-process test.

python -m tests.registry.sqlite_worker DATA_DIR NAME COUNT
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from registry import open_registry

SHARED = ("shared", "/feed")


async def work(data_dir: Path, name: str, count: int) -> None:
    registry = await open_registry(None, data_dir)
    try:
        module_hash = await registry.put_module(f"module of {name}".encode())
        await registry.put_artifact(module_hash, "engine", f"artifact of {name}".encode())
        await registry.put_endpoint(*SHARED, methods=["GET"], actor=name)
        for n in range(count):
            await registry.put_endpoint(name, f"/e{n}", methods=["GET"], actor=name)
            version = await registry.add_version(
                *SHARED, language="wasm", module_hash=module_hash, author=name
            )
            await registry.activate(*SHARED, version.id, actor=name)
    finally:
        await registry.close()


if __name__ == "__main__":
    asyncio.run(work(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
