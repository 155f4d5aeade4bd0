"""Contract: the managed service catalogue, its audit entries and its changes on the feed."""

from __future__ import annotations

import pytest

from registry import Action, NotFound, Registry
from tests.support.registries import Backend

SPEC: dict[str, object] = {
    "url": "http://titles.internal:8080/v1",
    "timeout_ms": 500,
    "headers": {"x-api-key": "secret-key-1"},
    "allow": ["tv"],
    "cache": {"ttl_s": 30.0, "vary": ["accept-language"]},
}


async def test_an_empty_catalogue(registry: Registry) -> None:
    assert await registry.list_services() == []
    with pytest.raises(NotFound):
        await registry.get_service("titles")


async def test_a_service_is_stored_as_given_and_listed_by_name(registry: Registry) -> None:
    created = await registry.put_service("titles", SPEC, actor="root")
    await registry.put_service("artwork", {"url": "http://art.internal"}, actor="root")

    assert created.name == "titles"
    assert dict(created.spec) == SPEC
    fetched = await registry.get_service("titles")
    assert (fetched.name, dict(fetched.spec)) == ("titles", SPEC)
    assert [s.name for s in await registry.list_services()] == ["artwork", "titles"]


async def test_another_registry_on_the_store_sees_the_catalogue(
    registry: Registry, backend: Backend
) -> None:
    other = await backend.open()
    await registry.put_service("titles", SPEC, actor="root")

    assert dict((await other.get_service("titles")).spec) == SPEC


async def test_replacing_and_deleting_are_global_changes_on_the_feed(registry: Registry) -> None:
    await registry.put_service("titles", SPEC, actor="root")
    await registry.put_service("titles", {**SPEC, "timeout_ms": 900}, actor="ana")
    await registry.delete_service("titles", actor="bo")

    changes = await registry.changes_since(0)
    assert [(c.action, c.namespace, c.path) for c in changes] == [
        (Action.SERVICE_CREATED, None, None),
        (Action.SERVICE_UPDATED, None, None),
        (Action.SERVICE_DELETED, None, None),
    ]
    assert all(change.is_catalogue for change in changes)
    assert await registry.list_services() == []
    with pytest.raises(NotFound):
        await registry.delete_service("titles", actor="bo")


async def test_the_audit_log_never_holds_header_values(registry: Registry) -> None:
    await registry.put_service("titles", SPEC, actor="root")
    rotated = {**SPEC, "headers": {"x-api-key": "secret-key-2"}}
    await registry.put_service("titles", rotated, actor="ana")

    updated, created = await registry.audit_log()
    assert (created.actor, created.action) == ("root", Action.SERVICE_CREATED)
    assert (updated.actor, updated.action) == ("ana", Action.SERVICE_UPDATED)
    assert created.details["service"] == "titles"
    assert created.details["spec"] == {**SPEC, "headers": {"x-api-key": "<redacted>"}}
    assert updated.details["previous"] == created.details["spec"]
    assert "secret-key" not in repr([created.details, updated.details])
    # Global: no namespace's audit log shows it.
    assert await registry.audit_log(namespace="tv") == []


async def test_storing_the_same_spec_again_records_nothing(registry: Registry) -> None:
    await registry.put_service("titles", SPEC, actor="root")
    seq = await registry.latest_seq()

    again = await registry.put_service("titles", dict(SPEC), actor="ana")

    assert dict(again.spec) == SPEC
    assert await registry.latest_seq() == seq


@pytest.mark.parametrize("name", ["", "Titles", "-titles", "ti tles", "t" * 64, "a/b"])
async def test_bad_names_are_refused_and_change_nothing(registry: Registry, name: str) -> None:
    with pytest.raises(ValueError, match="service name"):
        await registry.put_service(name, SPEC, actor="root")
    assert await registry.latest_seq() == 0


@pytest.mark.parametrize(
    "spec",
    [{"url": float("nan")}, {"url": object()}, {"blob": "x" * 70_000}],
    ids=["not-json-number", "not-json", "too-large"],
)
async def test_specs_that_are_not_small_json_are_refused(
    registry: Registry, spec: dict[str, object]
) -> None:
    with pytest.raises(ValueError, match="service spec"):
        await registry.put_service("titles", spec, actor="root")
    assert await registry.list_services() == []
