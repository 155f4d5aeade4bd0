"""The compile child: `python -m host.sandbox._compile_child KIND OUT MEMORY CPU CACHE_DIR`.

Reads a module on stdin, limits itself, compiles it with the engine
configuration of its kind and writes the artifact to OUT. Exit status 0, or
one the parent understands (see _compiler); a limit kills it outright.
"""

from __future__ import annotations

import errno
import resource
import sys
from pathlib import Path

_NO_SPACE = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def _limit(memory_bytes: int, cpu_seconds: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    # SIGXCPU at the soft limit, SIGKILL a second later.
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


def main(argv: list[str]) -> int:
    kind_name, out, memory_bytes, cpu_seconds, cache = argv
    _limit(int(memory_bytes), int(cpu_seconds))
    wasm = sys.stdin.buffer.read()
    # Imported only now, so that everything it allocates is inside the limits.
    from host.sandbox._compiler import EXIT_INVALID, EXIT_NO_SPACE
    from host.sandbox._engine import ModuleKind, compile_artifact
    from host.sandbox._errors import InvalidModule

    try:
        artifact = compile_artifact(wasm, ModuleKind(kind_name), Path(cache) if cache else None)
    except InvalidModule as error:
        print(error, file=sys.stderr)
        return EXIT_INVALID
    path = Path(out)
    try:
        path.write_bytes(artifact)
    except OSError as error:
        path.unlink(missing_ok=True)
        if error.errno in _NO_SPACE:
            print(f"no space left to store the compiled module: {error.strerror}", file=sys.stderr)
            return EXIT_NO_SPACE
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
