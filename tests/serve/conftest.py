"""Hosts served by Hypercorn on loopback, with the example components built once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from host.build import REPO_ROOT, build_all_cached
from tests.support.hosts import HostProcess

EXAMPLE_JS = REPO_ROOT / "examples" / "home-js" / "home.js"
EXAMPLE_PY = REPO_ROOT / "examples" / "home-py" / "home.py"
HOME_V2_JS = Path(__file__).parent / "scripts" / "home_v2.js"
REACH_JS = Path(__file__).parent / "scripts" / "reach.js"
ADVERSARIAL_JS = REPO_ROOT / "tests" / "sandbox" / "scripts" / "js"


@pytest.fixture(scope="session")
def built() -> dict[str, Path]:
    """Every script these tests deploy, built once (in parallel) for the session."""
    sources = {
        "js": EXAMPLE_JS,
        "py": EXAMPLE_PY,
        "v2": HOME_V2_JS,
        "reach": REACH_JS,
        **{name: ADVERSARIAL_JS / f"{name}.js" for name in ("throw", "loop")},
    }
    return dict(zip(sources, build_all_cached(sources.values()), strict=True))


def example_backends(base: str) -> list[str]:
    return [f"profile={base}/profile", f"recommendations={base}/recommendations"]


@pytest.fixture
def host(tmp_path: Path, example_backend: str) -> Iterator[HostProcess]:
    served = HostProcess(tmp_path / "host", backends=example_backends(example_backend)).start()
    yield served
    served.stop()
