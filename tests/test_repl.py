"""`scripthost repl`: lines evaluated in the real sandbox, backends live, failures survived."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.support.hosts import SCRIPTHOST

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
