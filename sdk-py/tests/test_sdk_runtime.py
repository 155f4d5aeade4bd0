import json
import subprocess
import sys
from collections.abc import Iterator
from importlib.machinery import PathFinder

import pytest
from scripthost_sdk import Request, Response, json_response
from scripthost_sdk._runtime import (
    _IMPORT_REFUSAL,
    GuestFailure,
    NoImportsAtRequestTime,
    forbid_imports_from_now_on,
    install_import_refusal,
    serve,
)
from scripthost_sdk._traceback import remember_source


def raise_value_error(req: Request) -> Response:
    raise ValueError("kaboom")


def recurse(req: Request) -> Response:
    return recurse(req)


def exhaust_memory(req: Request) -> Response:
    raise MemoryError


def exit_early(req: Request) -> Response:
    sys.exit(3)


def test_a_response_passes_through() -> None:
    assert serve(lambda req: json_response({"ok": True}), Request()) == json_response({"ok": True})


def test_an_exception_becomes_a_guest_error_with_the_script_frames() -> None:
    remember_source(__file__)
    outcome = serve(raise_value_error, Request())
    assert isinstance(outcome, GuestFailure)
    assert outcome.kind == "exception"
    lines = outcome.message.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1].endswith(", in raise_value_error")
    assert lines[2] == '    raise ValueError("kaboom")'
    assert lines[-1] == "ValueError: kaboom"
    assert "scripthost_sdk" not in outcome.message


def test_recursion_is_a_stack_overflow_with_repeats_collapsed() -> None:
    outcome = serve(recurse, Request())
    assert isinstance(outcome, GuestFailure)
    assert outcome.kind == "stack-overflow"
    assert "[Previous line repeated" in outcome.message
    assert outcome.message.count("in recurse") == 3


def test_memory_error_is_out_of_memory() -> None:
    outcome = serve(exhaust_memory, Request())
    assert isinstance(outcome, GuestFailure)
    assert outcome.kind == "out-of-memory"
    assert outcome.message.endswith("MemoryError")


def test_system_exit_is_caught_too() -> None:
    outcome = serve(exit_early, Request())
    assert isinstance(outcome, GuestFailure)
    assert outcome.message.endswith("SystemExit: 3")


@pytest.mark.parametrize(
    ("returned", "error"),
    [
        ({"ok": True}, "TypeError: handle() must return a scripthost_sdk.Response, not dict"),
        (Response(status=70_000), "ValueError: Response.status 70000 is not an HTTP status"),
        (Response(headers=[("a", 1)]), "TypeError: Response.headers item"),  # type: ignore[list-item]
        (Response(body=[1]), "TypeError: Response.body must be bytes, not list"),  # type: ignore[arg-type]
    ],
)
def test_a_response_the_abi_cannot_carry_is_an_exception(returned: object, error: str) -> None:
    outcome = serve(lambda req: returned, Request())  # type: ignore[arg-type, return-value]
    assert isinstance(outcome, GuestFailure)
    assert outcome.kind == "exception"
    assert outcome.message.startswith(error)


def test_response_is_normalised() -> None:
    returned = Response(201, {"X-A": "1"}, "hé")  # type: ignore[arg-type]
    assert serve(lambda req: returned, Request()) == Response(201, [("x-a", "1")], "hé".encode())


@pytest.fixture
def restore_meta_path() -> Iterator[None]:
    saved = list(sys.meta_path)
    yield
    sys.meta_path[:] = saved
    _IMPORT_REFUSAL.armed = False


@pytest.mark.usefixtures("restore_meta_path")
def test_the_refusal_installed_at_build_time_lets_imports_through_until_armed() -> None:
    sys.modules.pop("this_module_does_not_exist", None)
    install_import_refusal()
    install_import_refusal()
    assert sys.meta_path.count(_IMPORT_REFUSAL) == 1
    assert sys.meta_path.index(_IMPORT_REFUSAL) < sys.meta_path.index(PathFinder)
    with pytest.raises(ModuleNotFoundError, match="No module named"):
        import this_module_does_not_exist  # type: ignore[import-not-found]
    forbid_imports_from_now_on()
    assert sys.meta_path.count(_IMPORT_REFUSAL) == 1
    with pytest.raises(ImportError, match="import it at the top of the script"):
        import this_module_does_not_exist  # noqa: F401


@pytest.mark.usefixtures("restore_meta_path")
def test_imports_at_request_time_fail_with_advice() -> None:
    sys.modules.pop("this_module_does_not_exist", None)
    forbid_imports_from_now_on()
    forbid_imports_from_now_on()
    assert sum(isinstance(f, NoImportsAtRequestTime) for f in sys.meta_path) == 1
    with pytest.raises(ImportError, match="import it at the top of the script"):
        import this_module_does_not_exist  # type: ignore[import-not-found]  # noqa: F401
    import json  # already loaded: still fine

    assert json.dumps(1) == "1"


# In a fresh interpreter, as in a component's build: which built-in types the ABCs
# the SDK's per-request checks consult hold in their caches, before and after.
_CACHED_AFTER = """
import json
import sys
from _abc import _get_dump
from collections.abc import Mapping, Sequence
from scripthost_sdk import _runtime

def cached():
    return sorted(
        f"{abc.__name__}:{ref().__name__}"
        for abc in (Mapping, Sequence)
        for ref in _get_dump(abc)[1] | _get_dump(abc)[2]
        if ref() in (list, dict)
    )

before = cached()
stdout, meta_path = sys.stdout, list(sys.meta_path)
_runtime.warm_up()
assert sys.stdout is stdout and sys.meta_path == meta_path, "warm_up armed something"
print(json.dumps([before, cached()]))
"""


def test_warming_up_fills_the_abc_caches_a_request_consults_and_arms_nothing() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _CACHED_AFTER], capture_output=True, text=True, check=True
    )
    before, after = json.loads(completed.stdout)
    assert before == []
    # Positive and negative: a dict or a list of headers is a Mapping or not, and
    # headers (by then a list) a Sequence.
    assert after == ["Mapping:dict", "Mapping:list", "Sequence:list"]
