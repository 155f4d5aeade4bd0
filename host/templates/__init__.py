"""`scripthost init`: a new script project from a template, with its tests."""

from __future__ import annotations

import re
from pathlib import Path
from string import Template
from typing import Literal

Language = Literal["js", "python"]

_TEMPLATES = Path(__file__).parent
_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


class TemplateError(Exception):
    """A project that cannot be created as asked."""


def create_project(name: str, language: Language, parent: Path) -> list[Path]:
    """Write the `language` template as `parent/name`; returns the files written."""
    if not _NAME.fullmatch(name):
        raise TemplateError(
            f"{name!r} is not a project name: lower-case letters, digits and _, "
            "starting with a letter (it also names the script's module)"
        )
    project = parent / name
    if project.exists():
        raise TemplateError(f"{project} already exists")
    project.mkdir(parents=True)
    written = []
    for template in sorted((_TEMPLATES / language).glob("*.tmpl")):
        target = project / Template(template.name.removesuffix(".tmpl")).substitute(name=name)
        target.write_text(Template(template.read_text()).substitute(name=name))
        written.append(target)
    return written
