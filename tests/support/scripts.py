"""The scripts tests deploy: the examples, two of the tests' own, and adversarial ones."""

from __future__ import annotations

from pathlib import Path

from host.build import REPO_ROOT

EXAMPLE_JS = REPO_ROOT / "examples" / "home-js" / "home.js"
EXAMPLE_PY = REPO_ROOT / "examples" / "home-py" / "home.py"
_OWN = REPO_ROOT / "tests" / "serve" / "scripts"
HOME_V2_JS = _OWN / "home_v2.js"
REACH_JS = _OWN / "reach.js"
HEADERS_JS = _OWN / "headers.js"
FETCH_JS = _OWN / "fetch.js"
TITLES_JS = REPO_ROOT / "examples" / "titles-js" / "titles.js"
TITLES_PY = REPO_ROOT / "examples" / "titles-py" / "titles.py"
_ADVERSARIAL_JS = REPO_ROOT / "tests" / "sandbox" / "scripts" / "js"

DEPLOYED: dict[str, Path] = {
    "js": EXAMPLE_JS,
    "py": EXAMPLE_PY,
    "v2": HOME_V2_JS,
    "reach": REACH_JS,
    "headers": HEADERS_JS,
    "fetch": FETCH_JS,
    "titles-js": TITLES_JS,
    "titles-py": TITLES_PY,
    **{name: _ADVERSARIAL_JS / f"{name}.js" for name in ("throw", "loop")},
}
