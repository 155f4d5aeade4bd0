"""Contract: every change lands in the audit log and the change feed, once, in order."""

from __future__ import annotations

import pytest

from registry import Action, Change, Registry

Target = tuple[Action, str | None, str | None]


async def make_one_of_each_change(registry: Registry, module_hash: str) -> list[Target]:
    """Every kind of mutation once; returns what the feed should say, in order."""
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    await registry.put_endpoint("team", "/feed", methods=["GET", "POST"], actor="ana")
    version = await registry.add_version(
        "team", "/feed", language="js", module_hash=module_hash, author="bo"
    )
    await registry.activate("team", "/feed", version.id, actor="bo")
    await registry.set_endpoint_quotas("team", "/feed", {"fuel": 1}, actor="cy")
    await registry.set_endpoint_enabled("team", "/feed", False, actor="cy")
    await registry.set_endpoint_enabled("team", "/feed", True, actor="cy")
    await registry.set_namespace_quotas("team", {"fuel": 2}, actor="root")
    await registry.set_namespace_enabled("team", False, actor="root")
    await registry.set_namespace_enabled("team", True, actor="root")
    await registry.set_default_quotas({"fuel": 3}, actor="root")
    await registry.delete_endpoint("team", "/feed", actor="ana")
    feed = ("team", "/feed")
    return [
        (Action.ENDPOINT_CREATED, *feed),
        (Action.ENDPOINT_UPDATED, *feed),
        (Action.VERSION_ADDED, *feed),
        (Action.VERSION_ACTIVATED, *feed),
        (Action.ENDPOINT_QUOTAS_SET, *feed),
        (Action.ENDPOINT_DISABLED, *feed),
        (Action.ENDPOINT_ENABLED, *feed),
        (Action.NAMESPACE_QUOTAS_SET, "team", None),
        (Action.NAMESPACE_DISABLED, "team", None),
        (Action.NAMESPACE_ENABLED, "team", None),
        (Action.DEFAULT_QUOTAS_SET, None, None),
        (Action.ENDPOINT_DELETED, *feed),
    ]


def targets(changes: list[Change]) -> list[Target]:
    return [(c.action, c.namespace, c.path) for c in changes]


async def test_an_empty_registry_has_no_history(registry: Registry) -> None:
    assert await registry.latest_seq() == 0
    assert await registry.changes_since(0) == []
    assert await registry.audit_log() == []


async def test_every_mutation_appends_one_change(registry: Registry, module_hash: str) -> None:
    expected = await make_one_of_each_change(registry, module_hash)

    changes = await registry.changes_since(0)

    assert targets(changes) == expected
    seqs = [c.seq for c in changes]
    assert seqs == sorted(set(seqs))
    assert seqs[0] > 0
    assert await registry.latest_seq() == seqs[-1]
    assert [c.at for c in changes] == sorted(c.at for c in changes)


async def test_every_mutation_is_audited_with_its_actor(
    registry: Registry, module_hash: str
) -> None:
    expected = await make_one_of_each_change(registry, module_hash)

    events = await registry.audit_log(limit=1000)

    assert [(e.action, e.namespace, e.path) for e in reversed(events)] == expected
    assert [e.actor for e in reversed(events)] == [
        *["ana"] * 2,
        *["bo"] * 2,
        *["cy"] * 3,
        *["root"] * 4,
        "ana",
    ]
    assert [e.seq for e in events] == sorted((e.seq for e in events), reverse=True)


async def test_the_feed_resumes_after_any_seq_and_pages(
    registry: Registry, module_hash: str
) -> None:
    expected = await make_one_of_each_change(registry, module_hash)
    everything = await registry.changes_since(0)
    middle = everything[4].seq

    assert targets(await registry.changes_since(middle)) == expected[5:]
    assert targets(await registry.changes_since(middle, limit=2)) == expected[5:7]
    assert await registry.changes_since(await registry.latest_seq()) == []


async def test_global_and_namespace_wide_changes_say_so(registry: Registry) -> None:
    await registry.set_default_quotas({"fuel": 1}, actor="root")
    await registry.set_namespace_enabled("team", False, actor="root")

    default_change, namespace_change = await registry.changes_since(0)

    assert default_change.is_global
    assert not default_change.is_namespace_wide
    assert namespace_change.is_namespace_wide
    assert not namespace_change.is_global


async def test_changes_that_change_nothing_are_not_recorded(
    registry: Registry, module_hash: str
) -> None:
    await registry.put_endpoint("team", "/feed", methods=["GET"], config={"a": "1"}, actor="ana")
    version = await registry.add_version(
        "team", "/feed", language="js", module_hash=module_hash, author="ana"
    )
    await registry.activate("team", "/feed", version.id, actor="ana")
    await registry.set_endpoint_quotas("team", "/feed", {"fuel": 1}, actor="ana")
    await registry.set_namespace_quotas("team", {"fuel": 1}, actor="ana")
    await registry.set_default_quotas({"fuel": 1}, actor="ana")
    seq = await registry.latest_seq()

    await registry.put_endpoint("team", "/feed", methods=["get"], config={"a": "1"}, actor="bo")
    await registry.activate("team", "/feed", version.id, actor="bo")
    await registry.set_endpoint_enabled("team", "/feed", True, actor="bo")
    await registry.set_endpoint_quotas("team", "/feed", {"fuel": 1}, actor="bo")
    await registry.set_namespace_enabled("team", True, actor="bo")
    await registry.set_namespace_quotas("team", {"fuel": 1}, actor="bo")
    await registry.set_default_quotas({"fuel": 1}, actor="bo")

    assert await registry.changes_since(seq) == []
    assert await registry.latest_seq() == seq


async def test_audit_details_say_what_changed(registry: Registry, module_hash: str) -> None:
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    version = await registry.add_version(
        "team", "/feed", language="js", module_hash=module_hash, author="ana", message="hi"
    )
    await registry.activate("team", "/feed", version.id, actor="ana")
    await registry.set_namespace_quotas("team", {"fuel": 9}, actor="root")

    quotas, activated, added, _created = await registry.audit_log()

    assert added.details["version"] == version.id
    assert added.details["module_hash"] == module_hash
    assert added.details["message"] == "hi"
    assert activated.details["version"] == version.id
    assert activated.details["previous"] is None
    assert activated.details["rollback"] is False
    assert quotas.details["quotas"] == {"fuel": 9}
    assert quotas.details["previous"] == {}


async def test_the_audit_log_filters_by_namespace_and_pages_newest_first(
    registry: Registry,
) -> None:
    for n in range(5):
        await registry.put_endpoint("team", f"/e{n}", methods=["GET"], actor="ana")
        await registry.put_endpoint("other", f"/e{n}", methods=["GET"], actor="bo")
    await registry.set_default_quotas({"fuel": 1}, actor="root")

    team = await registry.audit_log(namespace="team")
    first_page = await registry.audit_log(namespace="team", limit=2)
    second_page = await registry.audit_log(namespace="team", limit=2, before_seq=first_page[-1].seq)

    assert [e.path for e in team] == [f"/e{n}" for n in range(4, -1, -1)]
    assert {e.actor for e in team} == {"ana"}
    assert first_page == team[:2]
    assert second_page == team[2:4]
    assert (await registry.audit_log(limit=1))[0].action is Action.DEFAULT_QUOTAS_SET


@pytest.mark.parametrize("limit", [0, -1])
async def test_history_limits_must_be_positive(registry: Registry, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        await registry.audit_log(limit=limit)
    with pytest.raises(ValueError, match="limit"):
        await registry.changes_since(0, limit=limit)


async def test_a_failed_mutation_records_nothing(registry: Registry) -> None:
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    seq = await registry.latest_seq()

    with pytest.raises(LookupError):
        await registry.activate("team", "/feed", "v1", actor="ana")
    with pytest.raises(ValueError, match="quota"):
        await registry.set_namespace_quotas("team", {"fuel": "lots"}, actor="ana")  # type: ignore[dict-item]

    assert await registry.latest_seq() == seq
