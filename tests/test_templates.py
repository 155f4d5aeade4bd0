"""`scripthost init`: each template's project passes its own tests and runs in the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.projects import scripthost, suites

SCRIPT_FILE = {"js": "card.js", "python": "card.py"}


@pytest.mark.parametrize("lang", sorted(SCRIPT_FILE))
def test_a_new_project_passes_its_tests_with_a_junit_report(tmp_path: Path, lang: str) -> None:
    created = scripthost("init", "card", "--lang", lang, cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "card" / "README.md").read_text().startswith("# card\n")

    tested = scripthost("test", "card", "--junit-xml", "report.xml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert [counts for counts in suites(tmp_path / "report.xml").values()] == [(4, 0)]


@pytest.mark.parametrize("lang", sorted(SCRIPT_FILE))
def test_a_broken_script_fails_its_tests_and_the_report_counts_it(
    tmp_path: Path, lang: str
) -> None:
    scripthost("init", "card", "--lang", lang, cwd=tmp_path)
    script = tmp_path / "card" / SCRIPT_FILE[lang]
    script.write_text(
        script.read_text().replace("status=404", "status=200").replace("status: 404", "status: 200")
    )

    tested = scripthost("test", "--junit-xml", "report.xml", cwd=tmp_path)
    assert tested.returncode == 1
    assert [counts for counts in suites(tmp_path / "report.xml").values()] == [(4, 1)]


def test_one_report_holds_both_languages(tmp_path: Path) -> None:
    scripthost("init", "card", "--lang", "js", cwd=tmp_path)
    scripthost("init", "shelf", "--lang", "python", cwd=tmp_path)
    tested = scripthost("test", "--junit-xml", "report.xml", cwd=tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert sorted(suites(tmp_path / "report.xml").values()) == [(4, 0), (4, 0)]


def test_init_refuses_a_bad_name_or_a_directory_that_exists(tmp_path: Path) -> None:
    refused = scripthost("init", "Card-1", "--lang", "js", cwd=tmp_path)
    assert refused.returncode == 1
    assert "is not a project name" in refused.stderr
    (tmp_path / "card").mkdir()
    (tmp_path / "card" / "mine.js").write_text("// not to be overwritten\n")
    refused = scripthost("init", "card", "--lang", "js", cwd=tmp_path)
    assert refused.returncode == 1
    assert "already exists" in refused.stderr
    assert [p.name for p in (tmp_path / "card").iterdir()] == ["mine.js"]


def test_test_without_tests_says_so(tmp_path: Path) -> None:
    refused = scripthost("test", cwd=tmp_path)
    assert refused.returncode == 1
    assert "no tests found" in refused.stderr


@pytest.mark.parametrize("lang", sorted(SCRIPT_FILE))
def test_the_template_script_runs_in_the_sandbox_against_the_catalog(
    tmp_path: Path, lang: str, example_backend: str
) -> None:
    scripthost("init", "card", "--lang", lang, cwd=tmp_path)
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"path": "/card", "query": "id=2"}))
    invoked = scripthost(
        "invoke",
        str(tmp_path / "card" / SCRIPT_FILE[lang]),
        "--request",
        str(request),
        f"--backend=catalog={example_backend}/catalog",
        "--config",
        "greeting=Hi",
        cwd=tmp_path,
    )
    assert invoked.returncode == 0, invoked.stderr
    response = json.loads(invoked.stdout)["response"]
    assert response["status"] == 200
    assert json.loads(response["body"])["title"]["name"] == "Dune"
    assert json.loads(response["body"])["greeting"] == "Hi"
