"""Deploy, call, redeploy, roll back and delete through the CLI; restart; audit."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.hosts import TV_TOKEN, HostProcess
from tests.support.scripts import EXAMPLE_JS, EXAMPLE_PY, HOME_V2_JS


def home(host: HostProcess, endpoint: str) -> httpx.Response:
    with host.device() as device:
        return device.get(f"/tv/{endpoint}", params={"user": "42"})


def test_full_lifecycle_survives_a_restart(host: HostProcess, built: dict[str, Path]) -> None:
    deploy = ("deploy", "--config", "greeting=Hello", "--config", "max_items=2")
    js_v1 = host.cli(
        *deploy, str(EXAMPLE_JS), "--endpoint", "tv/home", "-m", "first", token=TV_TOKEN
    )
    py_v1 = host.cli(*deploy, str(EXAMPLE_PY), "--endpoint", "tv/home-py", token=TV_TOKEN)
    assert (js_v1.stdout.strip(), py_v1.stdout.strip()) == ("v1", "v1")

    for endpoint in ("home", "home-py"):
        answer = home(host, endpoint)
        assert answer.status_code == 200, answer.text
        assert answer.json()["greeting"] == "Hello, Ada!"
        assert [row["id"] for row in answer.json()["rows"]] == ["m1", "m2"]

    v2 = host.cli("deploy", str(HOME_V2_JS), "--endpoint", "tv/home", "-m", "v2", token=TV_TOKEN)
    assert v2.stdout.strip() == "v2"
    assert home(host, "home").json() == {
        "edition": "v2",
        "greeting": "Hello",
        "path": "/home",
        "version": "v2",
    }

    rolled = host.cli("rollback", "tv/home", token=TV_TOKEN)
    assert "v1 is active" in rolled.stdout
    assert home(host, "home").json()["greeting"] == "Hello, Ada!"
    listing = host.cli("versions", "tv/home", token=TV_TOKEN).stdout
    assert "* v1" in listing
    assert "  v2" in listing

    host.cli("delete", "tv/home-py", token=TV_TOKEN)
    gone = home(host, "home-py")
    assert gone.status_code == 404
    assert gone.json()["error"] == "not_found"

    host.restart()

    assert home(host, "home").json()["greeting"] == "Hello, Ada!"
    assert home(host, "home-py").status_code == 404
    endpoints = host.cli("endpoints", token=TV_TOKEN).stdout
    assert "tv/home " in endpoints
    assert "tv/home-py" not in endpoints
    with host.admin(TV_TOKEN) as admin:
        source = admin.get("/endpoints/tv/home/-/versions/v2/source").json()
        events = admin.get("/audit", params={"namespace": "tv"}).json()["events"]
    assert source["source"] == HOME_V2_JS.read_text()
    steps = [(e["action"], e["path"], e["details"].get("version")) for e in reversed(events)]
    assert steps == [
        ("endpoint.created", "/home", None),
        ("version.added", "/home", "v1"),
        ("version.activated", "/home", "v1"),
        ("endpoint.created", "/home-py", None),
        ("version.added", "/home-py", "v1"),
        ("version.activated", "/home-py", "v1"),
        ("version.added", "/home", "v2"),
        ("version.activated", "/home", "v2"),
        ("version.activated", "/home", "v1"),
        ("endpoint.deleted", "/home-py", None),
    ]
    assert {e["actor"] for e in events} == {"tv-team"}


def test_cli_errors_are_one_readable_line(host: HostProcess, built: dict[str, Path]) -> None:
    refused = host.cli("versions", "tv/nothing-here", token=TV_TOKEN, check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "Error: 404 not_found: no endpoint tv/nothing-here"
    ]
    unreachable = host.cli("endpoints", "--server", "http://127.0.0.1:9", check=False)
    assert unreachable.returncode == 1
    assert "cannot reach the server at http://127.0.0.1:9" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr


def test_deploy_if_changed_uploads_only_a_new_module(
    host: HostProcess, built: dict[str, Path]
) -> None:
    again = ("--endpoint", "tv/home", "--if-changed")
    assert host.cli("deploy", str(built["js"]), *again).stdout.strip() == "v1"
    assert host.cli("deploy", str(built["js"]), *again).stdout.strip() == "v1"
    assert host.cli("deploy", str(built["v2"]), *again).stdout.strip() == "v2"
    with host.admin() as admin:
        versions = admin.get("/endpoints/tv/home/-/versions").json()["versions"]
    assert [v["id"] for v in versions] == ["v2", "v1"]
