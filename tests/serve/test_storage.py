"""A full disk: the upload is refused with 507, nothing partial is left, and the host serves on.

The host runs in its own mount namespace (util-linux `unshare`) with a small
tmpfs over its artifact directory, so a real write runs out of space there.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import wasmtime

from tests.serve.test_bad_input import upload
from tests.support.hosts import TV_TOKEN, HostProcess

# Room for small artifacts, not for a JavaScript component's (about 40 MiB).
ARTIFACT_DISK = "8m"
_MOUNT_THEN_EXEC = 'mount -t tmpfs -o size="$0" scripthost-artifacts "$1" && shift && exec "$@"'


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostProcess]:
    data_dir = tmp_path_factory.mktemp("full-disk") / "host"
    artifacts = data_dir / "artifacts"
    artifacts.mkdir(parents=True)
    launcher = ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", _MOUNT_THEN_EXEC]
    served = HostProcess(data_dir, launcher=[*launcher, ARTIFACT_DISK, str(artifacts)]).start()
    yield served
    served.stop()


def artifact_files(host: HostProcess) -> list[str]:
    """The artifact directory as the host sees it (its tmpfs is only visible from inside)."""
    assert host.process is not None
    inside = Path(f"/proc/{host.process.pid}/root") / str(host.data_dir / "artifacts").lstrip("/")
    return sorted(path.name for path in inside.iterdir())


def test_an_artifact_that_does_not_fit_is_refused_with_507_and_nothing_is_left(
    host: HostProcess, built: dict[str, Path]
) -> None:
    with host.admin() as admin:
        admin.put("/endpoints/tv/home", json={"methods": ["GET"]}).raise_for_status()
    response = upload(host, built["js"].read_bytes(), token=TV_TOKEN)
    assert response.status_code == 507, response.text
    assert response.json()["error"] == "insufficient_storage"
    assert "no space" in response.json()["message"]
    assert artifact_files(host) == []
    with host.admin() as admin:
        assert admin.get("/endpoints/tv/home/-/versions").json() == {"versions": []}


def test_after_a_full_disk_a_module_that_fits_is_stored_and_served(
    host: HostProcess, tmp_path: Path
) -> None:
    small = tmp_path / "small.wasm"
    small.write_bytes(
        wasmtime.wat2wasm('(module (memory (export "memory") 1) (func (export "_start")))')
    )
    host.cli("deploy", str(small), "--endpoint", "tv/small")
    assert [name.endswith(".cwasm") for name in artifact_files(host)] == [True]
    assert host.status("/tv/small") == 200
