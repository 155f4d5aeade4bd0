"""The management API's contract: its generated OpenAPI document and who may see what."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.hosts import MUSIC_TOKEN, TV_TOKEN, HostProcess


def test_the_openapi_document_describes_every_operation(host: HostProcess) -> None:
    document = httpx.get(f"{host.url}/admin/v1/openapi.json").json()
    operations = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "put", "post", "delete"}
    }
    endpoint = "/admin/v1/endpoints/{namespace}/{path}"
    assert {
        ("GET", "/admin/v1/endpoints"),
        ("PUT", endpoint),
        ("GET", endpoint),
        ("DELETE", endpoint),
        ("GET", endpoint + "/-/versions"),
        ("POST", endpoint + "/-/versions"),
        ("GET", endpoint + "/-/versions/{version}/source"),
        ("POST", endpoint + "/-/activate"),
        ("PUT", endpoint + "/-/enabled"),
        ("GET", "/admin/v1/audit"),
    } <= operations
    upload = document["paths"][endpoint + "/-/versions"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_a_team_sees_and_touches_only_its_namespaces(
    host: HostProcess, built: dict[str, Path]
) -> None:
    host.cli("deploy", str(built["v2"]), "--endpoint", "tv/home", token=TV_TOKEN)
    host.cli("deploy", str(built["v2"]), "--endpoint", "music/home", token=MUSIC_TOKEN)
    with host.admin(TV_TOKEN) as tv:
        listed = [e["namespace"] for e in tv.get("/endpoints").json()["endpoints"]]
        audit = {e["namespace"] for e in tv.get("/audit").json()["events"]}
        foreign_audit = tv.get("/audit", params={"namespace": "music"})
        foreign_delete = tv.delete("/endpoints/music/home")
    assert listed == ["tv"]
    assert audit == {"tv"}
    assert foreign_audit.status_code == 403
    assert foreign_delete.status_code == 403
    with host.device() as device:
        assert device.get("/music/home").status_code == 200


BOOTSTRAP_TOKEN = "bootstrap-admin-token-for-tests-01"


def test_scripthost_admin_token_adds_a_bootstrap_admin(tmp_path: Path) -> None:
    with_bootstrap = HostProcess(
        tmp_path / "with", env={"SCRIPTHOST_ADMIN_TOKEN": BOOTSTRAP_TOKEN}
    ).start()
    without = HostProcess(tmp_path / "without").start()
    try:
        with with_bootstrap.admin(BOOTSTRAP_TOKEN) as admin:
            me = admin.get("/whoami").json()
            # Changing the fleet's default quotas is for admins only.
            changed = admin.put("/quotas", json={"quotas": {"rps": 100}})
        with without.admin(BOOTSTRAP_TOKEN) as stranger:
            refused = stranger.get("/whoami")
        with with_bootstrap.admin(TV_TOKEN) as team:
            team_still = team.get("/whoami").json()["name"]
    finally:
        with_bootstrap.stop()
        without.stop()
    assert (me["name"], me["admin"]) == ("bootstrap-admin", True)
    assert changed.status_code == 200
    assert refused.status_code == 401
    assert team_still == "tv-team"
