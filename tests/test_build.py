"""Builds on this machine: what keys the component cache, what a deploy shows as source."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from host.build import (
    BuildError,
    _bundle_digest,
    _folder_digest,
    build_bundle,
    bundle_runtime_sha256,
    find_runtime,
    source_listing,
)


def write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)


@pytest.mark.parametrize(
    ("script", "helper"),
    [
        ("home.js", "lib/n.js"),
        ("home.py", "helpers.py"),
    ],
)
def test_the_component_cache_key_changes_with_an_imported_file(
    tmp_path: Path, script: str, helper: str
) -> None:
    js = script.endswith(".js")
    write(
        tmp_path,
        {
            script: (
                "import { n } from './lib/n.js';\nexport const handle = () => n;\n"
                if js
                else "import helpers\n\n\ndef handle(req):\n    return helpers.N\n"
            ),
            helper: "export const n = 1;\n" if js else "N = 1\n",
        },
    )
    before = _bundle_digest(tmp_path / script)
    (tmp_path / helper).write_text("export const n = 2;\n" if js else "N = 2\n")
    assert _bundle_digest(tmp_path / script) != before


def test_a_script_only_a_component_can_hold_is_keyed_by_its_folder(tmp_path: Path) -> None:
    write(tmp_path, {"home.py": "import sqlite3\n\n\ndef handle(req): ...\n", "other.py": ""})
    with pytest.raises(BuildError, match="no module 'sqlite3'"):
        _bundle_digest(tmp_path / "home.py")
    before = _folder_digest(tmp_path / "home.py")
    (tmp_path / "other.py").write_text("X = 1\n")
    assert _folder_digest(tmp_path / "home.py") != before


def test_a_bundle_names_the_runtime_built_here(tmp_path: Path) -> None:
    write(tmp_path, {"home.py": "def handle(req): ...\n"})
    bundle = build_bundle(tmp_path / "home.py", tmp_path / "home.bundle").read_bytes()
    found = find_runtime(bundle_runtime_sha256(bundle))
    assert found is not None
    assert found.name.startswith("python-runtime-")
    assert find_runtime("ab" * 32) is None


def test_the_source_listing_holds_the_authors_files_only(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "home.js": "import { n } from './lib/n.js';\nimport x from 'pkg';\n"
            "export const handle = () => n + x;\n",
            "lib/n.js": "export const n = 1;\n",
            "node_modules/pkg/index.js": "module.exports = 2;\n",
        },
    )
    bundle = build_bundle(tmp_path / "home.js", tmp_path / "home.bundle").read_bytes()
    header = json.loads(bundle.split(b"\n")[1])
    assert sorted(header["files"]) == ["home.js", "lib/n.js", "node_modules/pkg/index.js"]
    listing = source_listing(tmp_path / "home.js", bundle)
    assert listing == (
        f"// ==> home.js <==\n{(tmp_path / 'home.js').read_text()}\n"
        f"// ==> lib/n.js <==\n{(tmp_path / 'lib' / 'n.js').read_text()}"
    )

    write(tmp_path, {"alone.js": "export const handle = () => 1;\n"})
    alone = build_bundle(tmp_path / "alone.js", tmp_path / "alone.bundle").read_bytes()
    assert source_listing(tmp_path / "alone.js", alone) == "export const handle = () => 1;\n"
