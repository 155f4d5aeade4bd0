"""The JavaScript engine's gaps and their workarounds, as the JS SDK guide's compatibility
table states them, checked in the real runtime."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from host.build import REPO_ROOT
from host.sandbox import CompiledModule, RunResult, Sandbox, ScriptRequest
from tests.support.runs import run_once

Bundled = Callable[[Path], CompiledModule]

PROBES = """\
import { json } from '@scripthost/sdk';
%s

function attempt(f) {
  try {
    return String(f());
  } catch (error) {
    return error.name;
  }
}

export function handle() {
  return json({
    intl: typeof Intl,
    normalize: attempt(() => 'e\\u0301'.normalize('NFC') === '\\u00e9'),
    localeNumber: (1234.5).toLocaleString('de-DE'),
    propertyEscape: attempt(() => new RegExp('\\\\p{L}', 'u').test('a')),
    letterTest: [...'aZ1é'].map((c) => c.toUpperCase() !== c.toLowerCase()).join(),
  });
}
"""


async def probe(sandbox: Sandbox, bundled: Bundled, folder: Path, imports: str) -> object:
    script = folder / "probe.js"
    script.write_text(PROBES % imports)
    request = ScriptRequest("GET", "/", "", endpoint="tests/compat", request_id="req-1")
    result: RunResult = await run_once(sandbox, bundled(script), request)
    assert result.response is not None, (result.failure_message, result.guest_detail)
    return json.loads(result.response.body)


async def test_the_gaps_are_as_the_guide_says(
    sandbox: Sandbox, bundled: Bundled, tmp_path: Path
) -> None:
    assert await probe(sandbox, bundled, tmp_path, "") == {
        "intl": "undefined",
        "normalize": "TypeError",
        "localeNumber": "1234.5",
        "propertyEscape": "SyntaxError",
        "letterTest": "true,true,false,true",
    }


@pytest.fixture
def with_unorm(tmp_path: Path) -> Path:
    package = REPO_ROOT / "sdk-js" / "node_modules" / "unorm"
    shutil.copytree(package, tmp_path / "node_modules" / "unorm")
    return tmp_path


async def test_unorm_gives_back_normalize(
    sandbox: Sandbox, bundled: Bundled, with_unorm: Path
) -> None:
    found = await probe(sandbox, bundled, with_unorm, "import 'unorm';")
    assert isinstance(found, dict)
    assert found["normalize"] == "true"
