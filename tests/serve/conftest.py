"""Hosts served by Hypercorn on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.hosts import HostProcess, example_backends


@pytest.fixture
def host(tmp_path: Path, example_backend: str) -> Iterator[HostProcess]:
    served = HostProcess(tmp_path / "host", backends=example_backends(example_backend)).start()
    yield served
    served.stop()
