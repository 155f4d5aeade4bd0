"""Contract: every change is refused without a name to record, before anything is stored."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from registry import CanaryEnd, Registry, TrafficPolicy

Change = Callable[[Registry, str], Awaitable[object]]

# One call per method that records who asked, with that name left to the test.
CHANGES: dict[str, Change] = {
    "put_endpoint": lambda r, who: r.put_endpoint("team", "/new", methods=["GET"], actor=who),
    "delete_endpoint": lambda r, who: r.delete_endpoint("team", "/feed", actor=who),
    "set_endpoint_enabled": lambda r, who: r.set_endpoint_enabled(
        "team", "/feed", False, actor=who
    ),
    "set_endpoint_quotas": lambda r, who: r.set_endpoint_quotas(
        "team", "/feed", {"fuel": 1}, actor=who
    ),
    "activate": lambda r, who: r.activate("team", "/feed", "v2", actor=who),
    "set_namespace_enabled": lambda r, who: r.set_namespace_enabled("team", False, actor=who),
    "set_namespace_quotas": lambda r, who: r.set_namespace_quotas("team", {"fuel": 1}, actor=who),
    "set_default_quotas": lambda r, who: r.set_default_quotas({"fuel": 1}, actor=who),
    "put_service": lambda r, who: r.put_service("catalog", {"url": "http://b"}, actor=who),
    "delete_service": lambda r, who: r.delete_service("users", actor=who),
    "set_traffic": lambda r, who: r.set_traffic(
        "team", "/feed", TrafficPolicy("v2", 10), actor=who
    ),
    "end_canary": lambda r, who: r.end_canary(
        "team", "/feed", canary_id="run", outcome=CanaryEnd.ABORTED, actor=who
    ),
    "record_verdict": lambda r, who: r.record_verdict(
        "team", "/feed", canary_id="run", verdict={"pass": True}, actor=who
    ),
    "set_label": lambda r, who: r.set_label("team", "/feed", "stable", "v1", actor=who),
}


async def stored_state(registry: Registry) -> tuple[object, ...]:
    return (
        await registry.latest_seq(),
        await registry.list_endpoints(),
        await registry.list_services(),
        await registry.get_namespace("team"),
        await registry.get_default_quotas(),
    )


@pytest.mark.parametrize("name", sorted(CHANGES))
async def test_a_change_without_an_actor_is_refused_and_stores_nothing(
    registry: Registry, module_hash: str, name: str
) -> None:
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    for _ in range(2):
        await registry.add_version(
            "team", "/feed", language="js", module_hash=module_hash, author="ana"
        )
    await registry.activate("team", "/feed", "v1", actor="ana")
    await registry.put_service("users", {"url": "http://a"}, actor="ana")
    before = await stored_state(registry)

    with pytest.raises(ValueError, match="actor"):
        await CHANGES[name](registry, "")

    assert await stored_state(registry) == before


async def test_a_version_without_an_author_is_refused_and_stores_nothing(
    registry: Registry, module_hash: str
) -> None:
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    seq = await registry.latest_seq()

    with pytest.raises(ValueError, match="author"):
        await registry.add_version(
            "team", "/feed", language="js", module_hash=module_hash, author=""
        )

    assert await registry.list_versions("team", "/feed") == []
    assert await registry.latest_seq() == seq
