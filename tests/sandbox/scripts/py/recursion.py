"""Recurses without a base case and does not catch the RecursionError.

`?limit=N` first raises Python's recursion limit to N, as a script trying to get
past it would. Python-to-Python calls do not use the wasm stack, so `&via=repr`
recurses through C code (repr of a self-nesting object) to reach the wasm stack.
"""

import sys

from scripthost_sdk import Request, Response


def descend(depth: int) -> int:
    return descend(depth + 1) + 1


class Nest:
    def __repr__(self) -> str:
        return f"[{self!r}]"


def handle(req: Request) -> Response:
    limit = req.params.get("limit")
    if limit:
        sys.setrecursionlimit(int(limit))
    if req.params.get("via") == "repr":
        repr(Nest())
    descend(0)
    raise AssertionError("unreachable")
