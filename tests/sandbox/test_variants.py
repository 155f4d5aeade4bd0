"""Variants, options and results lower correctly from several sandbox workers at once."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import wasmtime
from wasmtime import component as wc
from wasmtime.component import _types

from host.sandbox import CompiledModule, SandboxEngine
from host.sandbox import _variants as variants
from host.sandbox._abi import interface, make_record

THREADS = 8
LOWERINGS = 20_000


def test_it_is_installed_once_components_run() -> None:
    assert variants.install()
    assert _types.VariantLikeType._lower is variants._lower


@pytest.fixture
def switching_often() -> Iterator[None]:
    """Threads take turns every microsecond, so that races show."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("switching_often")
def test_backend_results_lower_from_many_threads_at_once(
    sandbox_engine: SandboxEngine,
    compile_file: Callable[[Path], CompiledModule],
    built: dict[str, Path],
) -> None:
    variants.install()
    component = compile_file(built["js"]).code
    assert isinstance(component, wc.Component)
    backend = component.type.imports(sandbox_engine.engine)[interface("backend")]
    assert isinstance(backend.ty, wc.ComponentInstanceType)
    call = backend.ty.exports(sandbox_engine.engine)["call"].ty
    assert isinstance(call, wc.FuncType)
    assert call.result is not None
    result_type = call.result
    answers = {
        "ok": make_record(status=200, headers=[("a", "b")], body=b"x"),
        "err": wc.Variant("timeout", "slow"),
    }
    store = wasmtime.Store(sandbox_engine.engine)
    wrong: list[str] = []

    def lower_many() -> None:
        for n in range(LOWERINGS):
            case = "ok" if n % 2 else "err"
            try:
                chosen, _ = result_type._lower(store, answers[case])  # type: ignore[attr-defined]
            except (AttributeError, TypeError, ValueError) as error:
                wrong.append(repr(error))
                continue
            if chosen != case:
                wrong.append(f"{case} lowered as {chosen}")

    threads = [threading.Thread(target=lower_many) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
