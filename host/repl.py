"""`scripthost repl`: expressions and statements run one by one in the real sandbox.

Each input runs in a fresh instance of the language's shared runtime, with the
same limits as an endpoint and `backend`, `config` and `log` live: here,
against the catalogue given (`LocalRunner`), or on a running host as one of
its endpoints would run (a scratch run, `scripthost repl --endpoint`). A
fresh instance remembers nothing, so the session keeps the statements that
succeeded and runs them again before each new input (their backend calls
included): the session reads like a notebook of one script.
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from host.backends import Catalogue
from host.build import BUNDLE_SUFFIX, BuildError, build_bundle
from host.invoke import invoke, request_from_json, result_document
from host.sandbox import Limits, SandboxEngine

Language = Literal["js", "python"]

_JS_STATEMENT = re.compile(
    r"^\s*(const|let|var|function|async\s+function|class|if|for|while|try|throw|switch)\b"
)

_JS_SCRIPT = """\
import {{ BackendError, BackendResponse, backend, config, json, log }} from '@scripthost/sdk';

function show(value) {{
  if (value instanceof BackendResponse) {{
    return {{ status: value.status, headers: value.headers, body: value.text() }};
  }}
  if (value instanceof BackendError) return {{ error: value.kind, message: value.message }};
  if (value === undefined) return null;
  return value;
}}

export async function handle(req) {{
{statements}
  return json({{ value: show(await ({expression})) }});
}}
"""

_PY_SCRIPT = """\
from scripthost_sdk import (
    BackendError, BackendResponse, Request, Response, backend, config, graph, json_response, log,
)


def handle(req: Request) -> Response:
{statements}
    return json_response({{"value": repr({expression})}})
"""


@dataclass(frozen=True)
class Outcome:
    """What one input gave: its value (as text) or its failure, and what it cost."""

    value: str | None
    failure: str | None
    fuel: int
    wall_ms: float
    logs: list[str] = field(default_factory=list)

    def describe(self) -> str:
        shown = self.value if self.failure is None else f"! {self.failure}"
        cost = f"[{self.fuel:,} fuel, {self.wall_ms:.1f} ms]"
        return "\n".join([*self.logs, f"{shown}  {cost}"])


# Runs a bundle once; `scripthost invoke`'s JSON document of what happened.
Runner = Callable[[bytes], Mapping[str, Any]]


class LocalRunner:
    """Runs bundles in this process's sandbox, backends from `catalogue`."""

    def __init__(
        self,
        engine: SandboxEngine,
        catalogue: Catalogue,
        config: Mapping[str, str],
        limits: Limits,
    ) -> None:
        self._engine = engine
        self._catalogue = catalogue
        self._config = dict(config)
        self._limits = limits

    def __call__(self, bundle: bytes) -> Mapping[str, Any]:
        result = asyncio.run(
            invoke(
                self._engine,
                bundle,
                request_from_json({"path": "/repl"}),
                catalogue=self._catalogue,
                config=self._config,
                limits=self._limits,
            )
        )
        return result_document(result)


class ReplSession:
    def __init__(self, language: Language, run: Runner) -> None:
        self.language = language
        self._run_bundle = run
        self.statements: list[str] = []

    def evaluate(self, line: str) -> Outcome:
        """Run `line` after the statements kept so far; a statement that works is kept."""
        if self._is_statement(line):
            outcome = self._run([*self.statements, line], "undefined" if self._js else "None")
            if outcome.failure is None:
                self.statements.append(line)
            return outcome
        return self._run(self.statements, line)

    @property
    def _js(self) -> bool:
        return self.language == "js"

    def _is_statement(self, line: str) -> bool:
        if self._js:
            return bool(_JS_STATEMENT.match(line))
        try:
            compile(line, "<repl>", "eval")
        except SyntaxError:
            return True
        return False

    def _run(self, statements: list[str], expression: str) -> Outcome:
        indent = "  " if self._js else "    "
        body = "\n".join(indent + statement for statement in statements)
        template = _JS_SCRIPT if self._js else _PY_SCRIPT
        script = template.format(statements=body, expression=expression)
        with tempfile.TemporaryDirectory(prefix="scripthost-repl-") as scratch:
            source = Path(scratch) / ("repl.js" if self._js else "repl.py")
            source.write_text(script)
            try:
                bundle = build_bundle(source, Path(scratch) / f"repl{BUNDLE_SUFFIX}").read_bytes()
            except BuildError as error:
                return Outcome(None, f"does not build: {error}", 0, 0.0)
        return _outcome(self._run_bundle(bundle), as_repr=not self._js)


def _outcome(document: Mapping[str, Any], *, as_repr: bool) -> Outcome:
    """Python shows values as `repr` gives them; JavaScript as JSON."""
    logs = [f"{line['level']}: {line['message']}" for line in document["logs"]]
    fuel, wall_ms = int(document["fuel_used"]), float(document["wall_ms"])
    failure = document.get("failure")
    if failure is not None:
        described = f"{failure['class']}: {failure['message']}"
        if failure.get("guest_detail"):
            described += f"\n{failure['guest_detail']}"
        return Outcome(None, described, fuel, wall_ms, logs)
    value = json.loads(document["response"]["body"])["value"]
    shown = str(value) if as_repr else json.dumps(value, ensure_ascii=False)
    return Outcome(shown, None, fuel, wall_ms, logs)
