"""Contract: endpoints are created, read, listed, updated, switched off and deleted."""

from __future__ import annotations

import asyncio

import pytest

from registry import NotFound, QuotaExceeded, Registry
from tests.support.registries import Backend


async def test_a_new_endpoint_is_enabled_and_serves_no_version(registry: Registry) -> None:
    created = await registry.put_endpoint(
        "team", "/feed", methods=["get", "POST"], config={"region": "eu"}, actor="ana"
    )

    assert created.namespace == "team"
    assert created.path == "/feed"
    assert created.methods == {"GET", "POST"}
    assert dict(created.config) == {"region": "eu"}
    assert dict(created.quotas) == {}
    assert created.enabled is True
    assert created.active_version is None
    assert created.created_at == created.updated_at
    assert created.created_at.tzinfo is not None
    assert await registry.get_endpoint("team", "/feed") == created


async def test_putting_an_endpoint_again_replaces_methods_and_config_only(
    registry: Registry, module_hash: str
) -> None:
    await registry.put_endpoint("team", "/feed", methods=["GET"], config={"a": "1"}, actor="ana")
    version = await registry.add_version(
        "team", "/feed", language="js", module_hash=module_hash, author="ana"
    )
    await registry.activate("team", "/feed", version.id, actor="ana")
    await registry.set_endpoint_quotas("team", "/feed", {"fuel": 5}, actor="ana")
    before = await registry.set_endpoint_enabled("team", "/feed", False, actor="ana")

    after = await registry.put_endpoint(
        "team", "/feed", methods=["PUT"], config={"b": "2"}, actor="bo"
    )

    assert after.methods == {"PUT"}
    assert dict(after.config) == {"b": "2"}
    assert after.created_at == before.created_at
    assert after.updated_at >= before.updated_at
    assert (after.active_version, dict(after.quotas), after.enabled) == (
        version.id,
        {"fuel": 5},
        False,
    )


async def test_config_defaults_to_empty(registry: Registry) -> None:
    endpoint = await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")

    assert dict(endpoint.config) == {}


async def test_unknown_endpoints_are_not_found(registry: Registry) -> None:
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")

    with pytest.raises(NotFound):
        await registry.get_endpoint("team", "/other")
    with pytest.raises(NotFound):
        await registry.get_endpoint("other", "/feed")
    with pytest.raises(NotFound):
        await registry.delete_endpoint("team", "/other", actor="ana")
    with pytest.raises(NotFound):
        await registry.set_endpoint_enabled("team", "/other", False, actor="ana")
    with pytest.raises(NotFound):
        await registry.set_endpoint_quotas("team", "/other", {}, actor="ana")


async def test_listing_is_ordered_and_filters_by_namespace(registry: Registry) -> None:
    for namespace, path in [("zed", "/a"), ("team", "/b"), ("team", "/a"), ("alpha", "/z")]:
        await registry.put_endpoint(namespace, path, methods=["GET"], actor="ana")

    everything = await registry.list_endpoints()
    team = await registry.list_endpoints("team")

    assert [(e.namespace, e.path) for e in everything] == [
        ("alpha", "/z"),
        ("team", "/a"),
        ("team", "/b"),
        ("zed", "/a"),
    ]
    assert [e.path for e in team] == ["/a", "/b"]
    assert await registry.list_endpoints("nobody") == []


async def test_disabling_and_enabling_an_endpoint(registry: Registry) -> None:
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")

    disabled = await registry.set_endpoint_enabled("team", "/feed", False, actor="ana")
    assert disabled.enabled is False
    assert (await registry.get_endpoint("team", "/feed")).enabled is False

    enabled = await registry.set_endpoint_enabled("team", "/feed", True, actor="ana")
    assert enabled.enabled is True


async def test_a_deleted_endpoint_is_gone(registry: Registry, module_hash: str) -> None:
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    await registry.put_endpoint("team", "/keep", methods=["GET"], actor="ana")
    version = await registry.add_version(
        "team", "/feed", language="js", module_hash=module_hash, author="ana"
    )
    await registry.activate("team", "/feed", version.id, actor="ana")

    await registry.delete_endpoint("team", "/feed", actor="ana")

    with pytest.raises(NotFound):
        await registry.get_endpoint("team", "/feed")
    with pytest.raises(NotFound):
        await registry.list_versions("team", "/feed")
    with pytest.raises(NotFound):
        await registry.get_version("team", "/feed", version.id)
    with pytest.raises(NotFound):
        await registry.activate("team", "/feed", version.id, actor="ana")
    with pytest.raises(NotFound):
        await registry.effective_quotas("team", "/feed")
    assert [e.path for e in await registry.list_endpoints()] == ["/keep"]


async def test_recreating_a_deleted_endpoint_keeps_its_versions_inactive(
    registry: Registry, module_hash: str
) -> None:
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    old = await registry.add_version(
        "team", "/feed", language="js", module_hash=module_hash, author="ana"
    )
    await registry.activate("team", "/feed", old.id, actor="ana")
    await registry.delete_endpoint("team", "/feed", actor="ana")

    recreated = await registry.put_endpoint("team", "/feed", methods=["GET"], actor="bo")
    new = await registry.add_version(
        "team", "/feed", language="js", module_hash=module_hash, author="bo"
    )

    assert recreated.active_version is None
    assert [v.id for v in await registry.list_versions("team", "/feed")] == [new.id, old.id]
    assert new.id != old.id


@pytest.mark.parametrize("methods", [[], "GET", [""]])
async def test_an_endpoint_needs_method_names(registry: Registry, methods: list[str]) -> None:
    with pytest.raises(ValueError, match="method"):
        await registry.put_endpoint("team", "/feed", methods=methods, actor="ana")
    with pytest.raises(NotFound):
        await registry.get_endpoint("team", "/feed")


async def test_config_maps_strings_to_strings(registry: Registry) -> None:
    with pytest.raises(ValueError, match="config"):
        await registry.put_endpoint(
            "team",
            "/feed",
            methods=["GET"],
            config={"retries": 3},  # type: ignore[dict-item]
            actor="ana",
        )


async def test_every_change_needs_an_actor(registry: Registry) -> None:
    with pytest.raises(ValueError, match="actor"):
        await registry.put_endpoint("team", "/feed", methods=["GET"], actor="")


async def test_endpoints_handed_out_cannot_be_changed(registry: Registry) -> None:
    endpoint = await registry.put_endpoint(
        "team", "/feed", methods=["GET"], config={"a": "1"}, actor="ana"
    )

    with pytest.raises(TypeError):
        endpoint.config["a"] = "2"  # type: ignore[index]
    assert dict((await registry.get_endpoint("team", "/feed")).config) == {"a": "1"}


async def test_concurrent_creates_from_two_hosts_never_pass_max_endpoints(
    backend: Backend,
) -> None:
    hosts = [await backend.open(), await backend.open()]

    async def create(index: int) -> bool:
        try:
            await hosts[index % 2].put_endpoint(
                "team", f"/e{index}", methods=["GET"], actor="ana", max_endpoints=5
            )
        except QuotaExceeded:
            return False
        return True

    created = await asyncio.gather(*(create(index) for index in range(20)))

    assert created.count(True) == 5
    assert len(await hosts[0].list_endpoints("team")) == 5
    assert len(await hosts[1].audit_log(namespace="team")) == 5


async def test_at_max_endpoints_existing_ones_still_change_and_other_namespaces_grow(
    registry: Registry,
) -> None:
    for path in ("/a", "/b"):
        await registry.put_endpoint("team", path, methods=["GET"], actor="ana", max_endpoints=2)

    with pytest.raises(QuotaExceeded, match="at most 2"):
        await registry.put_endpoint("team", "/c", methods=["GET"], actor="ana", max_endpoints=2)
    updated = await registry.put_endpoint(
        "team", "/a", methods=["POST"], actor="ana", max_endpoints=2
    )
    other = await registry.put_endpoint(
        "other", "/c", methods=["GET"], actor="ana", max_endpoints=2
    )

    assert updated.methods == {"POST"}
    assert other.namespace == "other"
    with pytest.raises(NotFound):
        await registry.get_endpoint("team", "/c")
