"""`scripthost repl`: lines evaluated in the real sandbox, backends live, failures survived."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.support.hosts import SCRIPTHOST, TV_TOKEN, HostProcess

SESSIONS = {
    "js": (
        [
            "const r = backend.get('catalog', '/titles', { query: { ids: '2' } })",
            "r.json().titles['2'].name",
            "config.get('greeting')",
            "nope.x",
            "r.status",
        ],
        ['"Dune"', '"Hi"', "! guest_error: ReferenceError: nope is not defined", "200"],
    ),
    "python": (
        [
            'r = backend.get("catalog", "/titles", query={"ids": "2"})',
            'r.json()["titles"]["2"]["name"]',
            'config.get("greeting")',
            "1 / 0",
            "r.status",
        ],
        ["'Dune'", "'Hi'", "! guest_error: ZeroDivisionError: division by zero", "200"],
    ),
}
PROMPTS = {"js": "js> ", "python": ">>> "}
COST = re.compile(r"  \[[\d,]+ fuel, [\d.]+ ms\]\n")


@pytest.mark.parametrize("lang", sorted(SESSIONS))
def test_a_session_calls_a_backend_reads_config_and_survives_a_failure(
    lang: str, example_backend: str
) -> None:
    lines, expected = SESSIONS[lang]
    catalog = f"catalog={example_backend}/catalog"
    completed = subprocess.run(
        [SCRIPTHOST, "repl", "--lang", lang, "--config", "greeting=Hi", f"--backend={catalog}"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    # One answer per line, each ending with what it cost; a statement shows no value.
    answers = completed.stdout.split(PROMPTS[lang])[1:-1]
    assert len(answers) == len(lines)
    assert all(COST.search(answer) for answer in answers)
    shown = [COST.sub("", answer) for answer in answers[1:]]
    assert [text.split("\n")[0] for text in shown] == expected


def test_a_session_on_a_running_host_runs_as_the_endpoint_and_deploys_nothing(
    tmp_path: Path, example_backend: str
) -> None:
    host = HostProcess(tmp_path / "host", backends=[f"catalog={example_backend}/catalog"]).start()
    try:
        script = tmp_path / "served.js"
        script.write_text(
            "import { json } from '@scripthost/sdk';\nexport const handle = () => json({});"
        )
        host.cli("deploy", str(script), "--endpoint", "tv/card", "--config", "greeting=Hey")
        lines = [
            "backend.get('catalog', '/titles', { query: { ids: '2' } }).json().titles['2'].name",
            "config.get('greeting')",
        ]
        completed = subprocess.run(
            [SCRIPTHOST, "repl", "--lang", "js", "--endpoint", "tv/card"],
            input="\n".join(lines) + "\n",
            env={**os.environ, "SCRIPTHOST_URL": host.url, "SCRIPTHOST_TOKEN": TV_TOKEN},
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        with host.admin() as admin:
            versions = admin.get("/endpoints/tv/card/-/versions").json()["versions"]
    finally:
        host.stop()
    assert completed.returncode == 0, completed.stderr
    answers = [COST.sub("", answer) for answer in completed.stdout.split("js> ")[1:-1]]
    assert answers == ['"Dune"', '"Hey"']
    assert [version["id"] for version in versions] == ["v1"]
