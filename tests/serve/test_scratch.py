"""Scratch runs: a bundle run once on a real host as an endpoint would run it, nothing stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from host.build import build_bundle
from tests.support.hosts import MUSIC_TOKEN, TV_TOKEN, HostProcess

SERVED = """\
import { json } from '@scripthost/sdk';

export function handle() {
  return json({ served: true });
}
"""

PROBE = """\
import { backend, config, json, log } from '@scripthost/sdk';

export function handle(req) {
  const titles = backend.get('catalog', '/titles', { query: { ids: '2' } }).json().titles;
  log.info('probed', { query: req.query });
  return json({ greeting: config.get('greeting'), title: titles['2'].name });
}
"""

LOOP = """\
import { json } from '@scripthost/sdk';

export function handle() {
  for (;;) {}
  return json({});
}
"""


@pytest.fixture
def host(tmp_path: Path, example_backend: str) -> Iterator[HostProcess]:
    served = HostProcess(tmp_path / "host", backends=[f"catalog={example_backend}/catalog"]).start()
    script = tmp_path / "served.js"
    script.write_text(SERVED)
    served.cli("deploy", str(script), "--endpoint", "tv/card", "--config", "greeting=Hey")
    yield served
    served.stop()


@pytest.fixture
def bundle_of(tmp_path: Path) -> Any:
    def bundle(name: str, source: str) -> bytes:
        script = tmp_path / f"{name}.js"
        script.write_text(source)
        return build_bundle(script, tmp_path / f"{name}.bundle").read_bytes()

    return bundle


def scratch(
    host: HostProcess, endpoint: str, module: bytes, token: str = TV_TOKEN, **request: Any
) -> httpx.Response:
    with host.admin(token) as admin:
        return admin.post(
            f"/endpoints/{endpoint}/-/scratch",
            data={"request": json.dumps(request)},
            files={"module": ("script.bundle", module, "application/octet-stream")},
        )


def versions(host: HostProcess) -> list[str]:
    with host.admin() as admin:
        listed = admin.get("/endpoints/tv/card/-/versions").json()["versions"]
    return [version["id"] for version in listed]


def test_a_scratch_run_has_the_endpoints_backends_and_config_and_stores_nothing(
    host: HostProcess, bundle_of: Any
) -> None:
    answer = scratch(host, "tv/card", bundle_of("probe", PROBE), query="x=1")

    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert json.loads(document["response"]["body"]) == {"greeting": "Hey", "title": "Dune"}
    assert [call["service"] for call in document["backend_calls"]] == ["catalog"]
    assert [(line["message"], line["fields"]) for line in document["logs"]] == [
        ("probed", {"query": "x=1"})
    ]
    assert versions(host) == ["v1"]
    with host.device() as device:
        assert device.get("/tv/card").json() == {"served": True}


def test_a_looping_scratch_run_is_stopped_by_the_endpoints_quota(
    host: HostProcess, bundle_of: Any
) -> None:
    answer = scratch(host, "tv/card", bundle_of("loop", LOOP))

    assert answer.status_code == 200, answer.text
    assert answer.json()["failure"]["class"] == "fuel_exhausted"
    with host.device() as device:
        assert device.get("/tv/card").json() == {"served": True}


def test_scratch_runs_are_refused_outside_the_callers_namespace_and_for_non_bundles(
    host: HostProcess, bundle_of: Any
) -> None:
    probe = bundle_of("probe", PROBE)

    other_team = scratch(host, "tv/card", probe, token=MUSIC_TOKEN)
    not_a_bundle = scratch(host, "tv/card", b"\0asm\x01\0\0\0")
    no_endpoint = scratch(host, "tv/none", probe)

    assert (other_team.status_code, other_team.json()["error"]) == (403, "forbidden")
    assert (not_a_bundle.status_code, not_a_bundle.json()["error"]) == (400, "bad_request")
    assert (no_endpoint.status_code, no_endpoint.json()["error"]) == (404, "not_found")
    assert versions(host) == ["v1"]
