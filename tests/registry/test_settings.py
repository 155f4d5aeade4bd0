"""Contract: quota defaults, namespace overrides and switches, endpoint overrides."""

from __future__ import annotations

import pytest

from registry import NamespaceSettings, NotFound, Registry


async def test_nothing_configured_means_no_overrides(registry: Registry) -> None:
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")

    assert dict(await registry.get_default_quotas()) == {}
    assert await registry.get_namespace("team") == NamespaceSettings("team")
    assert (await registry.get_namespace("team")).enabled is True
    assert dict(await registry.effective_quotas("team", "/feed")) == {}


async def test_endpoint_beats_namespace_beats_defaults(registry: Registry) -> None:
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    await registry.put_endpoint("team", "/plain", methods=["GET"], actor="ana")
    await registry.put_endpoint("other", "/feed", methods=["GET"], actor="ana")
    await registry.set_default_quotas({"fuel": 1, "memory_bytes": 1, "timeout_ms": 1}, actor="r")
    await registry.set_namespace_quotas("team", {"memory_bytes": 2, "timeout_ms": 2}, actor="r")
    await registry.set_endpoint_quotas("team", "/feed", {"timeout_ms": 3}, actor="r")

    assert dict(await registry.effective_quotas("team", "/feed")) == {
        "fuel": 1,
        "memory_bytes": 2,
        "timeout_ms": 3,
    }
    assert dict(await registry.effective_quotas("team", "/plain")) == {
        "fuel": 1,
        "memory_bytes": 2,
        "timeout_ms": 2,
    }
    assert dict(await registry.effective_quotas("other", "/feed")) == {
        "fuel": 1,
        "memory_bytes": 1,
        "timeout_ms": 1,
    }


async def test_setting_quotas_replaces_them(registry: Registry) -> None:
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    await registry.set_default_quotas({"fuel": 1, "memory_bytes": 1}, actor="r")
    await registry.set_namespace_quotas("team", {"fuel": 2, "memory_bytes": 2}, actor="r")
    await registry.set_endpoint_quotas("team", "/feed", {"fuel": 3, "memory_bytes": 3}, actor="r")

    defaults = await registry.set_default_quotas({"fuel": 10}, actor="r")
    namespace = await registry.set_namespace_quotas("team", {}, actor="r")
    endpoint = await registry.set_endpoint_quotas("team", "/feed", {"memory_bytes": 30}, actor="r")

    assert dict(defaults) == dict(await registry.get_default_quotas()) == {"fuel": 10}
    assert dict(namespace.quotas) == dict((await registry.get_namespace("team")).quotas) == {}
    assert dict(endpoint.quotas) == {"memory_bytes": 30}
    assert dict(await registry.effective_quotas("team", "/feed")) == {
        "fuel": 10,
        "memory_bytes": 30,
    }


async def test_a_namespace_can_be_switched_off_and_on(registry: Registry) -> None:
    await registry.set_namespace_quotas("team", {"fuel": 5}, actor="r")

    off = await registry.set_namespace_enabled("team", False, actor="r")

    assert off == NamespaceSettings("team", enabled=False, quotas={"fuel": 5})
    assert await registry.get_namespace("team") == off
    assert (await registry.get_namespace("other")).enabled is True
    on = await registry.set_namespace_enabled("team", True, actor="r")
    assert on == NamespaceSettings("team", enabled=True, quotas={"fuel": 5})


async def test_a_namespace_switch_leaves_endpoint_flags_alone(registry: Registry) -> None:
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")

    await registry.set_namespace_enabled("team", False, actor="r")

    assert (await registry.get_endpoint("team", "/feed")).enabled is True


async def test_effective_quotas_of_an_unknown_endpoint_are_not_found(registry: Registry) -> None:
    await registry.set_default_quotas({"fuel": 1}, actor="r")

    with pytest.raises(NotFound):
        await registry.effective_quotas("team", "/nope")


@pytest.mark.parametrize("quotas", [{"fuel": "1"}, {"fuel": True}, {"fuel": 1.5}, {"": 1}])
async def test_quotas_are_named_integers(registry: Registry, quotas: dict[str, int]) -> None:
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")

    with pytest.raises(ValueError, match="quota"):
        await registry.set_default_quotas(quotas, actor="r")
    with pytest.raises(ValueError, match="quota"):
        await registry.set_namespace_quotas("team", quotas, actor="r")
    with pytest.raises(ValueError, match="quota"):
        await registry.set_endpoint_quotas("team", "/feed", quotas, actor="r")
    assert dict(await registry.effective_quotas("team", "/feed")) == {}
