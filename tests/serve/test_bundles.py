"""Scripts deployed as bundles on the shared runtimes, by the CLI and the API, on real hosts."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import wasmtime

from host.build import build_bundle
from tests.support.hosts import TV_TOKEN, HostProcess, example_backends, hosts_sharing_sqlite

MULTI_PY = Path(__file__).parents[1] / "sandbox" / "scripts" / "multi" / "py"


@pytest.fixture
def script(tmp_path: Path) -> Path:
    """A Python script of several files (and a package from the environment), editable."""
    folder = tmp_path / "script"
    shutil.copytree(MULTI_PY, folder)
    return folder / "home.py"


def said(host: HostProcess, path: str) -> object:
    with host.device() as device:
        answer = device.get(path)
    assert answer.status_code == 200, answer.text
    return answer.json()["said"]


def versions(host: HostProcess, endpoint: str) -> list[dict[str, Any]]:
    with host.admin() as admin:
        found: list[dict[str, Any]] = admin.get(f"/endpoints/{endpoint}/-/versions").json()[
            "versions"
        ]
        return found


def test_editing_only_a_helper_file_changes_what_is_served(host: HostProcess, script: Path) -> None:
    first = host.cli("deploy", str(script), "--endpoint", "tv/multi").stdout.strip()
    assert said(host, "/tv/multi") == "HI!"
    helper = script.parent / "text" / "case.py"
    helper.write_text(helper.read_text().replace('"!"', '"?"'))

    second = host.cli("deploy", str(script), "--endpoint", "tv/multi").stdout.strip()
    unchanged = host.cli("deploy", str(script), "--endpoint", "tv/multi", "--if-changed")

    assert (first, second) == ("v1", "v2")
    assert said(host, "/tv/multi") == "HI?"
    assert unchanged.stdout.strip() == "v2"
    assert "already runs this module" in unchanged.stderr
    [newest, oldest] = versions(host, "tv/multi")
    assert newest["runtime"] == oldest["runtime"] is not None
    assert newest["language"] == "python"


def test_the_source_view_shows_every_file_of_the_authors(host: HostProcess, script: Path) -> None:
    host.cli("deploy", str(script), "--endpoint", "tv/multi")
    with host.admin() as admin:
        source = admin.get("/endpoints/tv/multi/-/versions/v1/source").json()["source"]
    headings = [line for line in source.splitlines() if line.startswith("# ==> ")]
    assert headings == [
        "# ==> home.py <==",
        "# ==> helpers.py <==",
        "# ==> text/__init__.py <==",
        "# ==> text/case.py <==",
    ]
    assert "def look_up(key: str) -> int:" in source
    assert "packaging" not in "".join(headings)


def test_a_script_whose_top_level_fails_is_served_with_its_failure_class(
    host: HostProcess, tmp_path: Path
) -> None:
    script = tmp_path / "broken.js"
    script.write_text("const config = null;\nconfig.load();\nexport function handle() {}\n")
    host.cli("deploy", str(script), "--endpoint", "tv/broken")
    with host.device() as device:
        answer = device.get("/tv/broken")
    assert answer.status_code == 500
    assert answer.headers["x-scripthost-failure"] == "guest_error"
    with host.admin() as admin:
        failures = admin.get("/stats").json()
    assert "broken.js:2" in json.dumps(failures)


def test_a_build_error_stops_the_deploy_with_the_authors_line(
    host: HostProcess, tmp_path: Path
) -> None:
    script = tmp_path / "home.py"
    script.write_text("import yaml\n\n\ndef handle(req):\n    return None\n")
    refused = host.cli("deploy", str(script), "--endpoint", "tv/home", check=False)
    assert refused.returncode == 1
    assert "build failed: home.py, line 1: no module named 'yaml'" in refused.stderr


def bundle_with(
    path: Path, change: Callable[[dict[str, Any]], None], first_line: str | None = None
) -> bytes:
    magic, header, payload = path.read_text().split("\n", 2)
    document = json.loads(header)
    change(document)
    return f"{first_line or magic}\n{json.dumps(document)}\n{payload}".encode()


def upload(host: HostProcess, module: bytes) -> httpx.Response:
    with host.admin(TV_TOKEN) as admin:
        return admin.post(
            "/endpoints/tv/home/-/versions",
            files={"module": ("home.bundle", module, "application/octet-stream")},
        )


def stored(host: HostProcess) -> tuple[object, ...]:
    blobs = sorted(p.name for p in (host.data_dir / "registry-blobs").rglob("*"))
    with host.admin() as admin:
        return (
            admin.get("/endpoints/tv/home/-/versions").json(),
            admin.get("/audit").json(),
            blobs,
        )


def test_a_bundle_for_an_unknown_or_newer_runtime_is_refused_and_nothing_stored(
    host: HostProcess, tmp_path: Path, built: dict[str, Path]
) -> None:
    script = tmp_path / "home.py"
    script.write_text("from scripthost_sdk import text_response\n\n\ndef handle(req):\n    ...\n")
    host.cli("deploy", str(script), "--endpoint", "tv/home")
    good = build_bundle(script, tmp_path / "home.bundle")

    def runtime(**fields: str) -> Callable[[dict[str, Any]], None]:
        return lambda header: header["runtime"].update(fields)

    cases = [
        (bundle_with(good, runtime(sha256="ab" * 32)), "unknown_runtime", "is not in the registry"),
        (bundle_with(good, runtime(abi="0.1.9")), "unsupported_bundle", "needs ABI 0.1.9"),
        (bundle_with(good, runtime(abi="0.2.0")), "unsupported_bundle", "this host provides 0.1.1"),
        (bundle_with(good, runtime(language="lua")), "unsupported_bundle", "no runtime for"),
        (bundle_with(good, lambda _: None, "SCRIPTHOST-BUNDLE 2"), "unsupported_bundle", "'2'"),
        (bundle_with(good, lambda header: header.pop("runtime")), "invalid_bundle", "name its"),
    ]
    before = stored(host)
    for module, error, explanation in cases:
        refused = upload(host, module)
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/json"
        assert refused.json()["error"] == error
        assert explanation in refused.json()["message"]
        assert stored(host) == before

    # A component that is not a runtime is not taken for one, nor a runtime for an endpoint's.
    with host.admin() as admin:
        files = {"module": ("x.wasm", built["js"].read_bytes(), "application/wasm")}
        refused = admin.post("/runtimes", files=files)
    assert refused.status_code == 422
    assert refused.json()["error"] == "not_a_runtime"
    asking_for_a_script = wasmtime.wat2wasm(
        '(component (import "scripthost:abi/script@0.1.1" (instance)))'
    )
    refused = upload(host, bytes(asking_for_a_script))
    assert (refused.status_code, refused.json()["error"]) == (422, "module_rejected")
    assert stored(host) == before


def test_the_namespace_bundle_quota_caps_a_bundles_size(host: HostProcess, script: Path) -> None:
    host.cli("quota", "tv", "--bundle-kb", "4")
    refused = host.cli("deploy", str(script), "--endpoint", "tv/multi", check=False)
    assert refused.returncode == 1
    assert "413 too_large: bundles in 'tv' may be at most 4096 bytes" in refused.stderr
    with host.admin() as admin:
        assert admin.get("/endpoints/tv/multi/-/versions").json()["versions"] == []

    host.cli("quota", "tv", "--clear", "max_bundle_bytes")
    assert host.cli("deploy", str(script), "--endpoint", "tv/multi").stdout.strip() == "v1"


def test_a_second_host_serves_a_new_bundle_compiling_nothing(
    tmp_path: Path, example_backend: str, script: Path
) -> None:
    with hosts_sharing_sqlite(tmp_path, example_backends(example_backend)) as (first, second):
        first.cli("deploy", str(script), "--endpoint", "tv/one")
        compiled_runtime = first.host_info()["cache"]
        other = script.with_name("other.py")
        other.write_text(script.read_text().replace('"said"', '"other"'))
        first.cli("deploy", str(other), "--endpoint", "tv/two")
        for served in (first, second):
            served.wait_for_status("/tv/two", 200)

        # The runtime was compiled once, when it was uploaded; no bundle compiled anything.
        assert compiled_runtime["compiles"] == 1
        assert first.host_info()["cache"]["compiles"] == 1
        cache = second.host_info()["cache"]
        assert (cache["compiles"], cache["prepares"]) == (0, 0)
        assert (cache["registry_loads"], cache["bundle_loads"]) == (1, 2)
        assert said(second, "/tv/one") == "HI!"
