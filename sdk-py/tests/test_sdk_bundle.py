"""Bundling a Python script: which modules go in, which imports are met, what is refused."""

import ast
import importlib.machinery
import json
import os
from pathlib import Path

import pytest
from scripthost_sdk._imports import imports_of, unmet_imports
from scripthost_sdk._script import RUNTIME_PYTHON, BundleRejected, prepare, read_payload
from scripthost_sdk.bundle import BUNDLE_MAGIC, BundleError, collect, runtime_id, write_bundle


def write(root: Path, files: dict[str, str]) -> None:
    for name, source in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)


def bundled(root: Path, search: list[Path] | None = None) -> dict[str, str]:
    """name -> file of every module in the bundle of root/home.py."""
    payload = collect(root / "home.py", search_path=search or [])
    return {module.name: module.file for module in payload.modules}


HANDLE = "\n\ndef handle(req):\n    return None\n"


def test_the_entry_sibling_modules_and_packages_go_in(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "home.py": "import helpers\nfrom text import shout\nimport json\n" + HANDLE,
            "helpers.py": "X = 1\n",
            "text/__init__.py": "from .case import shout\n",
            "text/case.py": "def shout(s):\n    return s\n",
            "unused.py": "import nowhere\n",
        },
    )
    assert bundled(tmp_path) == {
        "home": "home.py",
        "helpers": "helpers.py",
        "text": "text/__init__.py",
        "text.case": "text/case.py",
    }


def test_pure_python_packages_come_from_the_search_path(tmp_path: Path) -> None:
    site = tmp_path / "site"
    write(site, {"vendor/__init__.py": "", "vendor/tool.py": "import re\n", "vendor/big.py": ""})
    write(tmp_path / "script", {"home.py": "from vendor import tool\n" + HANDLE})
    found = bundled(tmp_path / "script", [site])
    assert found == {
        "home": "home.py",
        "vendor": "vendor/__init__.py",
        "vendor.tool": "vendor/tool.py",
    }


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("import nowhere\n", r"^home\.py, line 1: no module named 'nowhere'$"),
        ("import sqlite3\n", r"^home\.py, line 1: the Python runtime has no module 'sqlite3'"),
        ("def handle(req)\n", r"^home\.py, line 1: SyntaxError: expected ':'$"),
        ("def other(req): ...\n", r"^home\.py defines no handle\(req\) function$"),
        ("from .. import up\n" + HANDLE, r"beyond the top-level package"),
    ],
)
def test_what_cannot_run_is_a_build_error(tmp_path: Path, source: str, problem: str) -> None:
    write(tmp_path, {"home.py": source})
    with pytest.raises(BundleError, match=problem):
        bundled(tmp_path)


def test_an_extension_module_cannot_be_bundled(tmp_path: Path) -> None:
    write(tmp_path, {"home.py": "import fast\n" + HANDLE})
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    (tmp_path / f"fast{suffix}").write_bytes(b"")
    with pytest.raises(BundleError, match="not pure Python"):
        bundled(tmp_path)


def test_guarded_and_never_run_imports_are_not_required(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "home.py": (
                "import sys\nfrom typing import TYPE_CHECKING\n"
                "try:\n    import fancy\nexcept ImportError:\n    fancy = None\n"
                "if TYPE_CHECKING:\n    import typing_only\n"
                "if sys.version_info >= (3, 13):\n    import new_enough\n"
                "else:\n    import too_old\n"
                "if sys.platform == 'win32':\n    import winreg_like\n" + HANDLE
            ),
            "new_enough.py": "",
            "too_old.py": "",
            "typing_only.py": "",
        },
    )
    assert RUNTIME_PYTHON >= (3, 13)
    assert set(bundled(tmp_path)) == {"home", "new_enough"}


def test_the_bundle_file_names_its_runtime_and_lists_its_files(tmp_path: Path) -> None:
    write(tmp_path, {"home.py": "import helpers\n" + HANDLE, "helpers.py": ""})
    runtime = tmp_path / "runtime.wasm"
    runtime.write_bytes(b"a runtime")
    files = write_bundle(tmp_path / "home.py", runtime, tmp_path / "home.bundle")

    magic, header, payload = (tmp_path / "home.bundle").read_text().split("\n", 2)
    assert magic == BUNDLE_MAGIC
    assert json.loads(header) == {
        "runtime": runtime_id(b"a runtime"),
        "entry": "home.py",
        "files": files,
    }
    assert files == ["home.py", "helpers.py"]
    assert read_payload(payload).entry == "home"


def test_a_helper_edit_changes_the_bundle(tmp_path: Path) -> None:
    write(tmp_path, {"home.py": "import helpers\n" + HANDLE, "helpers.py": "A = 1\n"})
    runtime = tmp_path / "runtime.wasm"
    runtime.write_bytes(b"a runtime")
    write_bundle(tmp_path / "home.py", runtime, tmp_path / "one.bundle")
    (tmp_path / "helpers.py").write_text("A = 2\n")
    write_bundle(tmp_path / "home.py", runtime, tmp_path / "two.bundle")
    assert (tmp_path / "one.bundle").read_bytes() != (tmp_path / "two.bundle").read_bytes()


def test_prepare_compiles_every_module_and_checks_imports_against_the_runtime() -> None:
    modules = [
        {
            "name": "home",
            "file": "home.py",
            "package": False,
            "source": "import json\nimport helpers\n",
        },
        {"name": "helpers", "file": "helpers.py", "package": False, "source": "import yaml\n"},
    ]
    payload = json.dumps({"entry": "home", "modules": modules})
    with pytest.raises(BundleRejected, match=r"^helpers\.py, line 1: no module named 'yaml'$"):
        prepare(payload, lambda name: name == "json")
    assert prepare(payload, lambda name: name in {"json", "yaml"})


def test_prepare_refuses_a_module_that_shadows_the_runtimes() -> None:
    modules = [{"name": "json", "file": "json.py", "package": False, "source": ""}]
    payload = json.dumps({"entry": "json", "modules": modules})
    with pytest.raises(BundleRejected, match="rename it"):
        prepare(payload, lambda name: name == "json")


def test_relative_imports_resolve_against_the_package() -> None:
    tree = ast.parse("from . import a\nfrom .b import c\nfrom .. import d\n")
    refs = imports_of(tree, "pkg.sub.mod", False, "pkg/sub/mod.py")
    assert [(ref.module, ref.names) for ref in refs] == [
        ("pkg.sub", ("a",)),
        ("pkg.sub.b", ("c",)),
        ("pkg", ("d",)),
    ]
    assert unmet_imports([("m.py", ref) for ref in refs], lambda name: name == "pkg") == [
        "m.py, line 1: no module named 'pkg.sub'",
        "m.py, line 2: no module named 'pkg.sub'",
    ]


def test_the_environment_packages_are_found_without_running_them(tmp_path: Path) -> None:
    # packaging is installed in the environment the build runs in.
    write(tmp_path, {"home.py": "from packaging.version import Version\n" + HANDLE})
    found = collect(tmp_path / "home.py").modules
    assert {module.name for module in found} >= {"home", "packaging", "packaging.version"}
    assert not any(os.path.isabs(module.file) for module in found)
