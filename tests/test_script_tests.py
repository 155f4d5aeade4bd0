"""`scripthost test --sandbox` and `--live URL`: the same tests, their requests run elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.projects import dev_serving, scripthost, suites

LANGUAGES = ["js", "python"]

# A script the host's CPython or Node runs, but the sandbox does not: the
# engine has no String.prototype.normalize, the sandbox no files.
ENGINE_GAPS = {
    "js": {
        "gap.js": """\
import { json } from '@scripthost/sdk';

export function handle() {
  return json({ text: 'e\\u0301'.normalize('NFC') });
}
""",
        "gap.test.js": """\
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeHost } from '@scripthost/sdk/testing';
import { handle } from './gap.js';

test('the text is normalised', async () => {
  const response = await new FakeHost().run(handle);
  assert.equal(response.json().text, '\\u00e9');
});
""",
    },
    "python": {
        "gap.py": """\
from scripthost_sdk import Request, Response, json_response


def handle(req: Request) -> Response:
    with open(__file__) as source:
        return json_response({"lines": len(source.readlines())})
""",
        "test_gap.py": """\
from scripthost_sdk import Request

from gap import handle


def test_the_script_counts_its_lines() -> None:
    assert handle(Request()).status == 200
""",
    },
}
# How each gap fails in the sandbox: its failure class, status and cause.
GAP_FAILURE = {
    "js": ("guest_error (500)", "normalize is not a function"),
    "python": ("abi_violation (502)", "scripts have no access to files"),
}

# Tests of the template's card as deployed: the example catalog's real titles,
# and the request id only a host adds.
LIVE_TESTS = {
    "js": (
        "live.test.js",
        """\
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeHost } from '@scripthost/sdk/testing';
import { handle } from './card.js';

test('a known title is served by the host', async () => {
  const response = await new FakeHost().run(handle, { query: 'id=2' });
  assert.equal(response.status, 200);
  assert.equal(response.json().title.name, 'Dune');
  assert.ok(response.header('x-request-id'));
});

test('an unknown title is a 404', async () => {
  const response = await new FakeHost().run(handle, { query: 'id=404404' });
  assert.equal(response.status, 404);
});
""",
    ),
    "python": (
        "test_live.py",
        """\
import json

from scripthost_sdk import Request

from card import handle


def test_a_known_title_is_served_by_the_host() -> None:
    response = handle(Request(query="id=2"))
    assert response.status == 200
    assert json.loads(response.body)["title"]["name"] == "Dune"
    assert any(name.lower() == "x-request-id" for name, _ in response.headers)


def test_an_unknown_title_is_a_404() -> None:
    assert handle(Request(query="id=404404")).status == 404
""",
    ),
}
SCRIPT_FILE = {"js": "card.js", "python": "card.py"}


def new_project(parent: Path, lang: str, extra: dict[str, str]) -> Path:
    created = scripthost("init", "card", "--lang", lang, cwd=parent)
    assert created.returncode == 0, created.stderr
    project = parent / "card"
    for name, text in extra.items():
        (project / name).write_text(text)
    return project


@pytest.mark.parametrize("lang", LANGUAGES)
def test_sandboxed_tests_pass_with_fake_backends_and_catch_what_the_engine_lacks(
    tmp_path: Path, lang: str
) -> None:
    project = new_project(tmp_path, lang, ENGINE_GAPS[lang])

    here = scripthost("test", "--junit-xml", "here.xml", cwd=project)
    assert here.returncode == 0, here.stdout + here.stderr
    assert list(suites(project / "here.xml").values()) == [(5, 0)]

    sandboxed = scripthost("test", "--sandbox", "--junit-xml", "sandbox.xml", cwd=project)
    # The template's four tests (canned and function answers, config, logs,
    # a backend error) pass through the real runtime; the engine's gap fails.
    assert sandboxed.returncode == 1
    assert list(suites(project / "sandbox.xml").values()) == [(5, 1)]
    assert all(part in sandboxed.stdout for part in GAP_FAILURE[lang])


# What the build or the runtime refuses though the test's own process runs it:
# (text replaced, its replacement, what the refusal says).
UNBUILDABLE = {
    "js": (
        "const id = req.params.get('id');",
        "const id = req.params.get('id');\n"
        "  if (/^\\p{L}+$/u.test(id ?? '')) return json({}, { status: 400 });",
        "card.js:7: SyntaxError: invalid property name in regular expression",
    ),
    "python": (
        "def handle(",
        "def later() -> None:\n    import no_such_module\n\n\ndef handle(",
        "card.py, line 11: no module named 'no_such_module'",
    ),
}


@pytest.mark.parametrize("lang", LANGUAGES)
def test_what_does_not_build_fails_the_sandboxed_tests_with_the_builds_message(
    tmp_path: Path, lang: str
) -> None:
    project = new_project(tmp_path, lang, {})
    script = project / SCRIPT_FILE[lang]
    old, new, refusal = UNBUILDABLE[lang]
    script.write_text(script.read_text().replace(old, new))
    assert scripthost("test", cwd=project).returncode == 0

    sandboxed = scripthost("test", "--sandbox", cwd=project)
    assert sandboxed.returncode == 1
    assert f"scripthost test --sandbox: {refusal}" in sandboxed.stdout


@pytest.mark.parametrize("lang", LANGUAGES)
def test_live_tests_send_their_requests_to_the_deployed_endpoint(
    tmp_path: Path, lang: str, example_backend: str
) -> None:
    name, text = LIVE_TESTS[lang]
    project = new_project(tmp_path, lang, {name: text})
    with dev_serving(project / SCRIPT_FILE[lang], "tv/card", example_backend) as dev:
        dev.wait_for_line("serving ")
        live = scripthost(
            "test", name, "--live", f"{dev.url}/tv/card", "--junit-xml", "live.xml", cwd=project
        )
    assert live.returncode == 0, live.stdout + live.stderr
    assert list(suites(project / "live.xml").values()) == [(2, 0)]


def test_sandbox_and_live_are_exclusive(tmp_path: Path) -> None:
    refused = scripthost("test", "--sandbox", "--live", "http://127.0.0.1:1/", cwd=tmp_path)
    assert refused.returncode == 2
    assert "exclusive" in refused.stderr
