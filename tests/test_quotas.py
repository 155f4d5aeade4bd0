from __future__ import annotations

import dataclasses

import pytest

from host.limits import GiB, Limits, MiB
from host.quotas import QUOTAS, EndpointQuotas, check_overrides


def test_overrides_apply_to_sandbox_limits_and_host_quotas() -> None:
    resolved = EndpointQuotas().resolve({"fuel": 5, "memory_bytes": MiB, "rps": 7, "unknown": 1})
    assert resolved.limits == Limits(fuel=5, memory_bytes=MiB)
    assert resolved.rps == 7


def test_every_quota_name_round_trips_through_the_flat_mapping() -> None:
    assert set(EndpointQuotas().as_mapping()) == set(QUOTAS)


def test_every_quota_is_declared_with_its_flag_and_a_range_holding_its_default() -> None:
    defaults = EndpointQuotas().as_mapping()
    flags = [spec.flag for spec in QUOTAS.values()]
    assert len(set(flags)) == len(flags)
    for name, spec in QUOTAS.items():
        assert spec.name == name
        assert spec.at_least <= defaults[name] <= spec.at_most
    assert (QUOTAS["memory_bytes"].flag, QUOTAS["memory_bytes"].unit) == ("memory-mb", MiB)
    assert QUOTAS["max_concurrency"].flag == "concurrency"
    # Every field of the quota dataclasses is a declared quota, and nothing else is.
    fields = {f.name for f in dataclasses.fields(Limits)} | {
        f.name for f in dataclasses.fields(EndpointQuotas) if f.name != "limits"
    }
    assert fields == set(QUOTAS)


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"fule": 1}, "unknown quota 'fule'"),
        ({"fuel": 0}, "'fuel' must be from 1 to"),
        ({"fuel": 2**64}, "'fuel' must be from 1 to"),
        ({"memory_bytes": 2**64}, "'memory_bytes' must be from 65536 to 4294967296"),
        ({"memory_bytes": 4 * GiB + 1}, "'memory_bytes' must be from"),
        ({"timeout_ms": 10**9}, "'timeout_ms' must be from 1 to 300000"),
        ({"rps": -1}, "'rps' must be from 0 to"),
        ({"reuse": True}, "'reuse' must be an integer"),
        ({"backend_concurrency": 257}, "'backend_concurrency' must be from 1 to 256"),
    ],
)
def test_bad_overrides_are_named(overrides: dict[str, int], complaint: str) -> None:
    with pytest.raises(ValueError, match=complaint):
        check_overrides(overrides)


def test_the_ends_of_every_range_are_accepted() -> None:
    for name, spec in QUOTAS.items():
        assert check_overrides({name: spec.at_least}) == {name: spec.at_least}
        assert check_overrides({name: spec.at_most}) == {name: spec.at_most}
