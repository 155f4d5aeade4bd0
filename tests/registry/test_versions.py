"""Contract: versions are immutable, numbered per endpoint, and activated only on their endpoint."""

from __future__ import annotations

import pytest

from registry import Action, Language, NotFound, Registry


@pytest.fixture
async def feed(registry: Registry) -> Registry:
    await registry.put_endpoint("team", "/feed", methods=["GET"], actor="ana")
    return registry


async def test_a_version_keeps_what_was_uploaded(feed: Registry, module_hash: str) -> None:
    version = await feed.add_version(
        "team",
        "/feed",
        language="python",
        module_hash=module_hash,
        author="ana",
        message="first cut",
        source="def handle(request): ...",
    )

    assert version.id == "v1"
    assert (version.namespace, version.path) == ("team", "/feed")
    assert version.language == "python"
    assert version.module_hash == module_hash
    assert (version.author, version.message) == ("ana", "first cut")
    assert version.source == "def handle(request): ..."
    assert version.created_at.tzinfo is not None
    assert await feed.get_version("team", "/feed", "v1") == version


async def test_source_and_message_are_optional(feed: Registry, module_hash: str) -> None:
    version = await feed.add_version(
        "team", "/feed", language="wasm", module_hash=module_hash, author="ana"
    )

    assert version.source is None
    assert version.message == ""


async def test_versions_are_numbered_in_order_and_listed_newest_first(
    feed: Registry, module_hash: str
) -> None:
    for _ in range(11):
        await feed.add_version("team", "/feed", language="js", module_hash=module_hash, author="a")

    listed = await feed.list_versions("team", "/feed")

    assert [v.id for v in listed] == [f"v{n}" for n in range(11, 0, -1)]
    assert [v.created_at for v in listed] == sorted((v.created_at for v in listed), reverse=True)


async def test_each_endpoint_numbers_its_own_versions(feed: Registry, module_hash: str) -> None:
    await feed.put_endpoint("team", "/other", methods=["GET"], actor="ana")
    await feed.add_version("team", "/feed", language="js", module_hash=module_hash, author="a")

    other = await feed.add_version(
        "team", "/other", language="js", module_hash=module_hash, author="a"
    )

    assert other.id == "v1"
    assert [v.id for v in await feed.list_versions("team", "/other")] == ["v1"]


async def test_versions_do_not_change_afterwards(feed: Registry, module_hash: str) -> None:
    first = await feed.add_version(
        "team", "/feed", language="js", module_hash=module_hash, author="ana", source="v1 src"
    )
    second_module = await feed.put_module(b"another module")
    second = await feed.add_version(
        "team", "/feed", language="js", module_hash=second_module, author="bo", source="v2 src"
    )
    await feed.activate("team", "/feed", first.id, actor="ana")
    await feed.activate("team", "/feed", second.id, actor="bo")
    await feed.put_endpoint("team", "/feed", methods=["POST"], actor="bo")

    assert await feed.get_version("team", "/feed", first.id) == first
    assert await feed.list_versions("team", "/feed") == [second, first]


async def test_a_version_needs_a_stored_module_and_an_endpoint(feed: Registry) -> None:
    never_stored = "ab" * 32

    with pytest.raises(NotFound):
        await feed.add_version(
            "team", "/feed", language="js", module_hash=never_stored, author="ana"
        )
    stored = await feed.put_module(b"module")
    with pytest.raises(NotFound):
        await feed.add_version("team", "/nope", language="js", module_hash=stored, author="ana")
    assert await feed.list_versions("team", "/feed") == []


async def test_a_bundle_version_names_its_runtime(feed: Registry) -> None:
    runtime = await feed.put_module(b"a runtime component")
    bundle = await feed.put_module(b"SCRIPTHOST-BUNDLE 1 ...")
    plain = await feed.put_module(b"a component")

    version = await feed.add_version(
        "team", "/feed", language="js", module_hash=bundle, author="ana", runtime=runtime
    )
    other = await feed.add_version("team", "/feed", language="js", module_hash=plain, author="a")

    assert (version.module_hash, version.runtime) == (bundle, runtime)
    assert other.runtime is None
    assert await feed.get_version("team", "/feed", version.id) == version
    assert await feed.list_versions("team", "/feed") == [other, version]
    added = [e for e in await feed.audit_log() if e.action is Action.VERSION_ADDED]
    assert [e.details.get("runtime") for e in added] == [None, runtime]


async def test_a_bundle_version_needs_its_runtime_stored(feed: Registry, module_hash: str) -> None:
    seq = await feed.latest_seq()

    with pytest.raises(NotFound):
        await feed.add_version(
            "team", "/feed", language="js", module_hash=module_hash, author="a", runtime="cd" * 32
        )
    with pytest.raises(ValueError, match="hash"):
        await feed.add_version(
            "team", "/feed", language="js", module_hash=module_hash, author="a", runtime="js-0.1"
        )

    assert await feed.list_versions("team", "/feed") == []
    assert await feed.changes_since(seq) == []


@pytest.mark.parametrize(
    ("language", "bad_hash", "author", "complaint"),
    [
        ("rust", None, "ana", "language"),
        ("js", "not-a-hash", "ana", "hash"),
        ("js", "AB" * 32, "ana", "hash"),
        ("js", None, "", "author"),
    ],
)
async def test_malformed_versions_are_refused(
    feed: Registry,
    module_hash: str,
    language: Language,
    bad_hash: str | None,
    author: str,
    complaint: str,
) -> None:
    with pytest.raises(ValueError, match=complaint):
        await feed.add_version(
            "team", "/feed", language=language, module_hash=bad_hash or module_hash, author=author
        )
    assert await feed.list_versions("team", "/feed") == []


async def test_unknown_versions_are_not_found(feed: Registry, module_hash: str) -> None:
    await feed.put_endpoint("team", "/other", methods=["GET"], actor="ana")
    await feed.add_version("team", "/other", language="js", module_hash=module_hash, author="a")
    await feed.add_version("team", "/other", language="js", module_hash=module_hash, author="a")
    await feed.add_version("team", "/feed", language="js", module_hash=module_hash, author="a")

    for version_id in ["v2", "v0", "latest", ""]:
        with pytest.raises(NotFound):
            await feed.get_version("team", "/feed", version_id)
    with pytest.raises(NotFound):
        await feed.list_versions("team", "/nope")


async def test_activating_routes_the_endpoint_to_the_version(
    feed: Registry, module_hash: str
) -> None:
    version = await feed.add_version(
        "team", "/feed", language="js", module_hash=module_hash, author="ana"
    )

    endpoint = await feed.activate("team", "/feed", version.id, actor="ana")

    assert endpoint.active_version == version.id
    assert (await feed.get_endpoint("team", "/feed")).active_version == version.id


async def test_a_rollback_activates_an_earlier_version(feed: Registry, module_hash: str) -> None:
    first = await feed.add_version(
        "team", "/feed", language="js", module_hash=module_hash, author="a"
    )
    second = await feed.add_version(
        "team", "/feed", language="js", module_hash=module_hash, author="a"
    )
    await feed.activate("team", "/feed", second.id, actor="ana")

    rolled_back = await feed.activate("team", "/feed", first.id, actor="bo")

    assert rolled_back.active_version == first.id
    [event] = await feed.audit_log(limit=1)
    assert event.action is Action.VERSION_ACTIVATED
    assert event.actor == "bo"
    assert event.details["version"] == first.id
    assert event.details["previous"] == second.id
    assert event.details["rollback"] is True


async def test_a_version_of_another_endpoint_cannot_be_activated(
    feed: Registry, module_hash: str
) -> None:
    await feed.put_endpoint("team", "/other", methods=["GET"], actor="ana")
    await feed.add_version("team", "/other", language="js", module_hash=module_hash, author="a")
    await feed.add_version("team", "/other", language="js", module_hash=module_hash, author="a")
    mine = await feed.add_version(
        "team", "/feed", language="js", module_hash=module_hash, author="a"
    )
    await feed.activate("team", "/feed", mine.id, actor="ana")
    seq = await feed.latest_seq()

    with pytest.raises(NotFound):
        await feed.activate("team", "/feed", "v2", actor="ana")

    assert (await feed.get_endpoint("team", "/feed")).active_version == mine.id
    assert await feed.changes_since(seq) == []
