"""Tracebacks that never touch the filesystem.

The stdlib `traceback` module reads source lines through `linecache`, which stats and
opens files; inside a component without WASI filesystem that traps and kills the
sandbox. This formatter takes source lines only from `remember_source`, which the
entry module calls at build time, when the files are still readable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from types import TracebackType

_sources: dict[str, list[str]] = {}
# Where lines come from for files `remember_source` never read (a runtime's bundle).
_more_sources: Callable[[], dict[str, list[str]]] | None = None
# Frames of the machinery that loads a script, left out of its tracebacks.
_hidden: Callable[[str], bool] = lambda filename: False  # noqa: E731

# componentize-py mounts each python-path directory at /0, /1, ...; drop that prefix.
_MOUNT_PREFIX = re.compile(r"^/\d+/")

MAX_MESSAGE_CHARS = 8192
MAX_CHAINED = 4
_REPEATS_SHOWN = 3


def remember_source(filename: str) -> None:
    """Keep `filename`'s lines in memory for later tracebacks (call while files exist)."""
    try:
        with open(filename, encoding="utf-8") as source:
            _sources[filename] = source.read().splitlines()
    except (OSError, UnicodeDecodeError, ValueError):
        pass


def remember_sources_from(load: Callable[[], dict[str, list[str]]]) -> None:
    """Take lines of files not remembered from `load()`, called once, when first needed."""
    global _more_sources
    _more_sources = load


def hide_frames_of(hidden: Callable[[str], bool]) -> None:
    """Leave frames whose filename `hidden` accepts out of tracebacks."""
    global _hidden
    _hidden = hidden


def remembered_line(filename: str, lineno: int | None) -> str | None:
    global _more_sources
    if filename not in _sources and _more_sources is not None:
        load, _more_sources = _more_sources, None
        for name, loaded in load().items():
            _sources.setdefault(name, loaded)
    lines = _sources.get(filename)
    if lines is None or lineno is None or not 0 < lineno <= len(lines):
        return None
    return lines[lineno - 1].strip() or None


def display_name(filename: str) -> str:
    return _MOUNT_PREFIX.sub("", filename)


def frame_lines(tb: TracebackType | None) -> Iterator[str]:
    """`File "x.py", line 3, in f` (+ source) per frame; long runs of one frame collapse."""
    previous: tuple[str, int | None, str] | None = None
    count = 0
    while tb is not None:
        code = tb.tb_frame.f_code
        if _hidden(code.co_filename):
            tb = tb.tb_next
            continue
        current = (code.co_filename, tb.tb_lineno, code.co_name)
        if current != previous:
            yield from _repeat_note(count)
            previous, count = current, 0
        count += 1
        if count <= _REPEATS_SHOWN:
            filename, lineno, name = current
            yield f'  File "{display_name(filename)}", line {lineno}, in {name}'
            source = remembered_line(filename, lineno)
            if source is not None:
                yield f"    {source}"
        tb = tb.tb_next
    yield from _repeat_note(count)


def _repeat_note(count: int) -> Iterator[str]:
    if count > _REPEATS_SHOWN:
        yield f"  [Previous line repeated {count - _REPEATS_SHOWN} more times]"


def exception_line(exc: BaseException) -> str:
    name = type(exc).__qualname__
    module = type(exc).__module__
    if module not in ("builtins", "__main__"):
        name = f"{module}.{name}"
    try:
        text = str(exc)
    except Exception:
        text = "<exception str() failed>"
    return f"{name}: {text}" if text else name


def single_exception(exc: BaseException, tb: TracebackType | None) -> list[str]:
    lines = ["Traceback (most recent call last):", *frame_lines(tb)] if tb is not None else []
    lines.append(exception_line(exc))
    return lines


def chain(exc: BaseException) -> list[tuple[BaseException, str | None]]:
    """`exc` and the exceptions it was raised from, oldest first.

    Each is paired with how the next newer one relates to it ("direct cause" or
    "context"), None for `exc` itself.
    """
    links: list[tuple[BaseException, str | None]] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    joint: str | None = None
    while current is not None and id(current) not in seen and len(links) <= MAX_CHAINED:
        seen.add(id(current))
        links.append((current, joint))
        current, joint = older_exception(current)
    links.reverse()
    return links


def older_exception(exc: BaseException) -> tuple[BaseException | None, str | None]:
    """The exception `exc` was raised from or while handling, as Python displays it."""
    if exc.__cause__ is not None:
        return exc.__cause__, "direct cause"
    if exc.__context__ is not None and not exc.__suppress_context__:
        return exc.__context__, "context"
    return None, None


_JOINTS = {
    "direct cause": "The above exception was the direct cause of the following exception:",
    "context": "During handling of the above exception, another exception occurred:",
}


def format_exception(exc: BaseException, skip_frames: int = 0) -> str:
    """Python-style traceback text for `exc`, without reading any file.

    `skip_frames` drops that many outermost frames of `exc` itself (the SDK's own
    frame that caught it).
    """
    parts: list[str] = []
    for link, joint in chain(exc):
        tb = link.__traceback__
        if link is exc:
            for _ in range(skip_frames):
                tb = tb.tb_next if tb is not None else None
        parts.extend(single_exception(link, tb))
        if joint is not None:
            parts.extend(["", _JOINTS[joint], ""])
    return truncate("\n".join(parts))


def truncate(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Keep the end of a long traceback: the innermost frames and the error line."""
    if len(text) <= limit:
        return text
    head = "Traceback (most recent call last):\n  ...\n"
    return head + text[-(limit - len(head)) :]
