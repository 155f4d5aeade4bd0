"""The script author's loop: `init` to a tested, served endpoint, and save to served in `dev`.

    python -m bench.dev_loop [--edits 8] [--lang js|python]

- init -> test -> served: `scripthost init`, `scripthost test`, then
  `scripthost dev` until its first deploy answers 200 (a fresh dev host:
  embedded registry, the runtime uploaded and compiled from the machine's
  compile cache).
- save -> served: each edit changes the script's greeting and is timed from
  the file's write to the first device request that answers with it (the
  device is polled every 20 ms).

Results: bench/results/dev_loop.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.compare import machine
from host.build import REPO_ROOT
from tests.support.hosts import SCRIPTHOST
from tests.support.projects import dev_serving
from tests.support.servers import example_backend

RESULTS = REPO_ROOT / "bench" / "results"
_SCRIPT = {"js": "card.js", "python": "card.py"}
_GREETING = {"js": "?? 'Hello'", "python": 'or "Hello"'}
_POLL_S = 0.02
_PATIENCE_S = 120.0


def _run(*args: str, cwd: Path) -> None:
    subprocess.run([SCRIPTHOST, *args], cwd=cwd, check=True, capture_output=True)


def _greeting(url: str) -> str | None:
    try:
        answer = httpx.get(url, params={"id": "2"}, timeout=5)
    except httpx.TransportError:
        return None
    return str(answer.json().get("greeting")) if answer.status_code == 200 else None


def _wait_for(url: str, greeting: str) -> None:
    deadline = time.monotonic() + _PATIENCE_S
    while _greeting(url) != greeting:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} never said {greeting!r}")
        time.sleep(_POLL_S)


def measure(lang: str, edits: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-dev-") as scratch, example_backend() as base:
        started = time.monotonic()
        _run("init", "card", "--lang", lang, cwd=Path(scratch))
        project = Path(scratch) / "card"
        _run("test", cwd=project)
        tested = time.monotonic()
        script = project / _SCRIPT[lang]
        with dev_serving(script, "tv/card", base) as dev:
            url = f"{dev.url}/tv/card"
            _wait_for(url, "Hello")
            served = time.monotonic()
            original = script.read_text()
            seconds = []
            for edit in range(edits):
                greeting = f"Hi{edit}"
                text = original.replace(_GREETING[lang], _GREETING[lang].replace("Hello", greeting))
                saved = time.monotonic()
                script.write_text(text)
                _wait_for(url, greeting)
                seconds.append(time.monotonic() - saved)
    return {
        "lang": lang,
        "init_and_test_s": round(tested - started, 2),
        "init_to_served_s": round(served - started, 2),
        "save_to_served_s": [round(s, 3) for s in seconds],
        "save_to_served_median_s": round(statistics.median(seconds), 3),
        "save_to_served_max_s": round(max(seconds), 3),
    }


def report(rows: list[dict[str, Any]]) -> str:
    lines = [
        f"Machine: {machine()}. `scripthost init` + `scripthost test`, then `scripthost dev`"
        " until it serves; then edits saved one by one, each timed from the write to the"
        " first device answer with the new text.",
        "",
        "| script | init + test | init to served | save to served, median | max | edits |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in rows:
        lines.append(
            f"| {row['lang']} template | {row['init_and_test_s']:.1f} s"
            f" | {row['init_to_served_s']:.1f} s | {row['save_to_served_median_s']:.2f} s"
            f" | {row['save_to_served_max_s']:.2f} s | {len(row['save_to_served_s'])} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--edits", type=int, default=8)
    parser.add_argument("--lang", choices=sorted(_SCRIPT), action="append")
    parser.add_argument("--name", default="dev_loop")
    args = parser.parse_args()
    rows = [measure(lang, args.edits) for lang in args.lang or sorted(_SCRIPT)]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(rows, indent=2) + "\n")
    (RESULTS / f"{args.name}.md").write_text(report(rows))
    print(report(rows))


if __name__ == "__main__":
    main()
