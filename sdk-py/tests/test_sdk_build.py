import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from scripthost_sdk.build import (
    SDK_SOURCE_ROOT,
    WIT_DIR,
    BuildError,
    check_script,
    componentize_command,
    explain_failure,
    immortalize_snapshot,
    main,
)
from wasm_bytes import component, data_section, module


def test_the_wit_is_the_abis_own_not_a_copy_and_ships_with_the_package() -> None:
    sdk_pyproject = Path(__file__).parents[1] / "pyproject.toml"
    abi_wit = Path(__file__).parents[2] / "abi" / "wit"
    # The same directory (a link), so the SDK's WIT can never drift from the ABI's.
    assert WIT_DIR.resolve() == abi_wit.resolve()
    shipped = tomllib.loads(sdk_pyproject.read_text())["tool"]["setuptools"]["package-data"]
    patterns = [p.removeprefix("wit/") for p in shipped["scripthost_sdk"] if p.startswith("wit/")]
    assert sorted(abi_wit.glob("*.wit"))
    for wit in abi_wit.glob("*.wit"):
        assert any(fnmatch(wit.name, pattern) for pattern in patterns), wit.name


def test_command_stubs_wasi_and_puts_entry_script_and_sdk_on_the_path(tmp_path: Path) -> None:
    command = componentize_command(tmp_path / "entry", [tmp_path / "scripts"], tmp_path / "o.wasm")
    assert "--stub-wasi" in command
    assert command[command.index("-d") + 1] == str(WIT_DIR)
    paths = [command[i + 1] for i, arg in enumerate(command) if arg == "-p"]
    assert paths == [str(tmp_path / "entry"), str(tmp_path / "scripts"), str(SDK_SOURCE_ROOT)]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("home.txt", "a script is a .py file"),
        ("my-home.py", "valid Python module name"),
        ("json.py", "shadows a module it needs"),
        ("scripthost_sdk.py", "shadows a module it needs"),
    ],
)
def test_script_names_are_checked_before_building(tmp_path: Path, name: str, problem: str) -> None:
    script = tmp_path / name
    script.write_text("def handle(req): ...\n")
    with pytest.raises(BuildError, match=problem):
        check_script(script)


def test_a_missing_script_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope.py"), "-o", str(tmp_path / "o.wasm")]) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'nope.py'}: no such file\n"


def test_failure_explained_by_the_entry_module_marker() -> None:
    output = (
        "Traceback ...\nAssertionError: scripthost-build-error: home.py, line 3: SyntaxError: x\n"
    )
    assert explain_failure(Path("home.py"), output) == "home.py, line 3: SyntaxError: x"


def test_failure_explained_by_componentize_cause() -> None:
    output = "Error: boom\n\nCaused by:\n    0: wasm trap: out of fuel\n\nStack backtrace:\n"
    assert (
        explain_failure(Path("h.py"), output)
        == "h.py: componentize-py failed: wasm trap: out of fuel"
    )


def test_a_component_whose_snapshot_cannot_be_finished_is_not_left_behind(tmp_path: Path) -> None:
    built = tmp_path / "home.wasm"
    built.write_bytes(component(module(data_section((0x100, b"no table here")))))
    with pytest.raises(
        BuildError, match=r"home.wasm: the snapshot could not be finished: 0 tables"
    ):
        immortalize_snapshot(built)
    assert list(tmp_path.iterdir()) == []
