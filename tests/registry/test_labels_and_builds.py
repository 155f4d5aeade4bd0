"""Contract: version labels, build records, and an endpoint's own history."""

from __future__ import annotations

import pytest

from registry import Action, BuildRecord, NotFound, Registry

FILES = {"home.js": "import { f } from './lib/f.js';\n", "lib/f.js": "export const f = 1;\n"}
INFO = {"entry": "home.js", "sdk": {"name": "@scripthost/sdk", "version": "0.1.0"}}


@pytest.fixture
async def feed(registry: Registry, module_hash: str) -> Registry:
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    for _ in range(2):
        await registry.add_version(
            "team", "/feed", language="js", module_hash=module_hash, author="ana"
        )
    return registry


async def test_a_label_names_one_version_and_can_move(feed: Registry) -> None:
    before = await feed.latest_seq()

    assert await feed.set_label("team", "/feed", "release-1", "v1", actor="bo") == {
        "release-1": "v1"
    }
    assert await feed.set_label("team", "/feed", "release-1", "v1", actor="bo") == {
        "release-1": "v1"
    }
    await feed.set_label("team", "/feed", "tested", "v2", actor="bo")
    await feed.set_label("team", "/feed", "release-1", "v2", actor="cy")

    assert await feed.labels("team", "/feed") == {"release-1": "v2", "tested": "v2"}
    changes = await feed.changes_since(before)
    assert [c.action for c in changes] == [Action.VERSION_LABELLED] * 3
    (moved,) = await feed.audit_log(limit=1)
    assert moved.details == {"label": "release-1", "version": "v2", "previous": "v1"}

    assert await feed.set_label("team", "/feed", "tested", None, actor="cy") == {"release-1": "v2"}
    (removed,) = await feed.audit_log(limit=1)
    assert (removed.action, removed.details["previous"]) == (Action.VERSION_UNLABELLED, "v2")


@pytest.mark.parametrize(
    ("label", "version", "error"),
    [
        ("release", "v9", NotFound),
        ("v3", "v1", ValueError),
        ("-dash", "v1", ValueError),
        ("", "v1", ValueError),
        ("x" * 65, "v1", ValueError),
        ("never-set", None, NotFound),
    ],
)
async def test_bad_labels_change_nothing(
    feed: Registry, label: str, version: str | None, error: type[Exception]
) -> None:
    before = await feed.latest_seq()

    with pytest.raises(error):
        await feed.set_label("team", "/feed", label, version, actor="bo")

    assert await feed.labels("team", "/feed") == {}
    assert await feed.latest_seq() == before


async def test_a_version_keeps_what_it_was_built_from(feed: Registry, module_hash: str) -> None:
    version = await feed.add_version(
        "team",
        "/feed",
        language="js",
        module_hash=module_hash,
        author="ana",
        source=FILES["home.js"],
        build=BuildRecord(INFO, FILES),
    )

    record = await feed.get_build("team", "/feed", version.id)
    assert (dict(record.info), dict(record.files)) == (INFO, FILES)
    assert await feed.list_builds("team", "/feed") == {version.id: INFO}
    with pytest.raises(NotFound):
        await feed.get_build("team", "/feed", "v1")
    with pytest.raises(NotFound):
        await feed.get_build("team", "/feed", "v9")


async def test_an_oversized_build_is_refused_before_anything_is_stored(
    feed: Registry, module_hash: str
) -> None:
    before = await feed.latest_seq()
    huge = BuildRecord(INFO, {"big.js": "x" * (5 * 1024 * 1024)})

    with pytest.raises(ValueError, match="at most"):
        await feed.add_version(
            "team", "/feed", language="js", module_hash=module_hash, author="a", build=huge
        )

    assert [v.id for v in await feed.list_versions("team", "/feed")] == ["v2", "v1"]
    assert await feed.latest_seq() == before


async def test_labels_and_builds_outlive_a_deleted_endpoint(
    feed: Registry, module_hash: str
) -> None:
    await feed.add_version(
        "team", "/feed", language="js", module_hash=module_hash, author="a", build=BuildRecord(INFO)
    )
    await feed.set_label("team", "/feed", "keep", "v3", actor="bo")

    await feed.delete_endpoint("team", "/feed", actor="ana")
    with pytest.raises(NotFound):
        await feed.labels("team", "/feed")
    await feed.put_endpoint("team", "/feed", methods=["GET"], actor="ana")

    assert await feed.labels("team", "/feed") == {"keep": "v3"}
    assert dict((await feed.get_build("team", "/feed", "v3")).info) == INFO


async def test_an_endpoints_history_leaves_out_its_neighbours(feed: Registry) -> None:
    await feed.put_endpoint("team", "/other", methods=["GET"], actor="ana")
    await feed.set_label("team", "/feed", "one", "v1", actor="bo")
    await feed.put_endpoint("team", "/other", methods=["POST"], actor="ana")

    events = await feed.audit_log(namespace="team", path="/feed", limit=100)

    assert [e.action for e in events] == [
        Action.VERSION_LABELLED,
        Action.VERSION_ADDED,
        Action.VERSION_ADDED,
        Action.ENDPOINT_CREATED,
    ]
    older = await feed.audit_log(namespace="team", path="/feed", before_seq=events[1].seq)
    assert [e.seq for e in older] == [e.seq for e in events[2:]]
