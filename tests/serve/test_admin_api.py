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
