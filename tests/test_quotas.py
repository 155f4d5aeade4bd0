from __future__ import annotations

import pytest

from host.limits import Limits, MiB
from host.quotas import QUOTA_NAMES, EndpointQuotas, check_overrides


def test_overrides_apply_to_sandbox_limits_and_host_quotas() -> None:
    resolved = EndpointQuotas().resolve({"fuel": 5, "memory_bytes": MiB, "rps": 7, "unknown": 1})
    assert resolved.limits == Limits(fuel=5, memory_bytes=MiB)
    assert resolved.rps == 7


def test_every_quota_name_round_trips_through_the_flat_mapping() -> None:
    assert set(EndpointQuotas().as_mapping()) == set(QUOTA_NAMES)


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"fule": 1}, "unknown quota 'fule'"),
        ({"fuel": 0}, "'fuel' must be at least 1"),
        ({"rps": -1}, "'rps' must be at least 0"),
        ({"reuse": True}, "'reuse' must be an integer"),
    ],
)
def test_bad_overrides_are_named(overrides: dict[str, int], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        check_overrides(overrides)
