"""Every test runs against a fresh FakeHost standing in for the component's imports."""

from collections.abc import Iterator

import pytest
from scripthost_sdk.testing import FakeHost


@pytest.fixture
def host() -> Iterator[FakeHost]:
    with FakeHost(config={"greeting": "Hello"}) as fake:
        yield fake
