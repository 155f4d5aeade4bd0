"""Hand-written components and modules, for scripts no SDK would build.

`handle_component` writes a component in the WebAssembly text format that
exports the ABI world's `handle` (answering 200 `ok`) and runs `body`, core
wasm with access to the given imports, before it answers. wasmtime's own
`wat2wasm` turns it into a binary. A one-page memory module comes first, so
imports that pass strings or lists can be lowered with it.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import wasmtime

from host.build import BUILD_CACHE_DIR, REPO_ROOT

# The ABI's types interface, as a component imports it.
_TYPES = """
  (import "scripthost:abi/types@0.1.0" (instance $types
    (type $pair (tuple string string))
    (type $hlist (list $pair))
    (export "headers" (type $headers (eq $hlist)))
    (type $req (record (field "method" string) (field "path" string) (field "query" string)
                  (field "headers" $headers) (field "body" (list u8)) (field "endpoint" string)
                  (field "version" string) (field "request-id" string)))
    (export "request" (type (eq $req)))
    (type $resp (record (field "status" u16) (field "headers" $headers) (field "body" (list u8))))
    (export "response" (type (eq $resp)))
    (type $k (enum "exception" "stack-overflow" "out-of-memory"))
    (export "guest-error-kind" (type $kind (eq $k)))
    (type $ge (record (field "kind" $kind) (field "message" string)))
    (export "guest-error" (type (eq $ge)))
  ))
  (alias export $types "request" (type $request))
  (alias export $types "response" (type $response))
  (alias export $types "guest-error" (type $guest-error))
"""

# A bump allocator for the canonical ABI, growing memory as it goes.
_MEMORY = """
  (core module $memory
    (memory (export "memory") {pages})
    (global $next (mut i32) (i32.const 65536))
    (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) (local $p i32)
      (local.set $p (i32.and (i32.add (global.get $next) (i32.sub (local.get 2) (i32.const 1)))
                             (i32.sub (i32.const 0) (local.get 2))))
      (global.set $next (i32.add (local.get $p) (local.get 3)))
      (block $fits
        (br_if $fits (i32.le_u (global.get $next) (i32.mul (memory.size) (i32.const 65536))))
        (br_if $fits (i32.ne (i32.const -1) (memory.grow (i32.add (i32.const 1)
          (i32.shr_u (i32.sub (global.get $next) (i32.mul (memory.size) (i32.const 65536)))
                     (i32.const 16))))))
        unreachable)
      (local.get $p)))
  (core instance $mi (instantiate $memory))
  (alias core export $mi "memory" (core memory $mem))
  (alias core export $mi "cabi_realloc" (core func $realloc))
"""

_HANDLE_PARAMS = " ".join(["i32"] * 16)  # the request record, flattened


def handle_component(
    *,
    imports: str = "",
    lowered: str = "",
    core_imports: str = "",
    body: str = "",
    locals_: str = "",
    module_fields: str = "",
    pages: int = 2,
    handle_type: str = '(param "req" $request) (result $result)',
) -> bytes:
    """A component exporting `handle`; `lowered` defines core funcs in `(core instance $host ...)`.

    `body` runs first in the core `handle`; the response record is then
    written at 16 (result discriminant) and returned. Data at 64 is `ok`.
    """
    text = f"""(component
{_TYPES}
{imports}
{_MEMORY.format(pages=pages)}
  {lowered or "(core instance $host)"}
  (core module $main
    (import "mem" "memory" (memory 1))
    {core_imports}
    (data (i32.const 64) "ok")
    {module_fields}
    (func (export "handle") (param {_HANDLE_PARAMS}) (result i32) {locals_}
      {body}
      (i32.store8 (i32.const 16) (i32.const 0))
      (i32.store16 (i32.const 20) (i32.const 200))
      (i64.store (i32.const 24) (i64.const 0))
      (i32.store (i32.const 32) (i32.const 64))
      (i32.store (i32.const 36) (i32.const 2))
      (i32.const 16)))
  (core instance $main
    (instantiate $main (with "mem" (instance $mi)) (with "host" (instance $host))))
  (alias core export $main "handle" (core func $handle))
  (type $result (result $response (error $guest-error)))
  (func (export "handle") {handle_type}
    (canon lift (core func $handle) (memory $mem) (realloc $realloc)))
)"""
    return bytes(wasmtime.wat2wasm(text))


# WASI imports as a component declares them, lowered into `$host`.
POLL_AND_CLOCK_IMPORTS = """
  (import "wasi:io/poll@0.2.3" (instance $poll
    (export "pollable" (type (sub resource)))
    (export "[method]pollable.block" (func (param "self" (borrow 0))))
    (export "poll" (func (param "in" (list (borrow 0))) (result (list u32))))
  ))
  (alias export $poll "pollable" (type $pollable))
  (import "wasi:clocks/monotonic-clock@0.2.3" (instance $clock
    (alias outer 1 $pollable (type))
    (export "pollable" (type (eq 0)))
    (export "subscribe-duration" (func (param "when" u64) (result (own 1))))
  ))
"""
POLL_AND_CLOCK_LOWERED = """
  (core func $block (canon lower (func $poll "[method]pollable.block")))
  (core func $poll (canon lower (func $poll "poll") (memory $mem) (realloc $realloc)))
  (core func $subscribe (canon lower (func $clock "subscribe-duration")))
  (core instance $host
    (export "block" (func $block)) (export "poll" (func $poll))
    (export "subscribe" (func $subscribe)))
"""
POLL_AND_CLOCK_CORE_IMPORTS = """
    (import "host" "block" (func $block (param i32)))
    (import "host" "poll" (func $poll (param i32 i32 i32)))
    (import "host" "subscribe" (func $subscribe (param i64) (result i32)))
"""


def sleeper(nanoseconds: int, *, via_poll: bool = False) -> bytes:
    """Waits on a monotonic-clock timer with `pollable.block` (or `poll`), then answers."""
    wait = (
        """(i32.store (i32.const 1024) (local.get $timer))
           (call $poll (i32.const 1024) (i32.const 1) (i32.const 1040))"""
        if via_poll
        else "(call $block (local.get $timer))"
    )
    return handle_component(
        imports=POLL_AND_CLOCK_IMPORTS,
        lowered=POLL_AND_CLOCK_LOWERED,
        core_imports=POLL_AND_CLOCK_CORE_IMPORTS,
        locals_="(local $timer i32)",
        body=f"(local.set $timer (call $subscribe (i64.const {nanoseconds}))) {wait}",
    )


def command_with_functions(count: int) -> bytes:
    """A WASI command (`_start`, `memory`) of `count` empty functions, written as bytes."""
    body = b"\x02\x00\x0b"  # size 2: no locals, end
    exports = b"\x06_start\x00\x00" + b"\x06memory\x02\x00"
    return (
        b"\0asm\x01\x00\x00\x00"
        + _section(1, _vector(1, b"\x60\x00\x00"))  # one type: [] -> []
        + _section(3, _vector(count, b"\x00" * count))
        + _section(5, _vector(1, b"\x00\x01"))  # one memory of one page
        + _section(7, _vector(2, exports))
        + _section(10, _vector(count, body * count))
    )


def _section(section: int, content: bytes) -> bytes:
    return bytes([section]) + _leb(len(content)) + content


def _vector(count: int, items: bytes) -> bytes:
    return _leb(count) + items


def _leb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


_WASI_JS_BUILDER = Path(__file__).with_name("build_wasi_js.mjs")
_COMPONENTIZE_JS_LOCK = REPO_ROOT / "sdk-js" / "package-lock.json"


def wasi_js_component(source: Path) -> Path:
    """`source` built by componentize-js with its WASI on (cached like SDK builds)."""
    digest = hashlib.sha256()
    for path in (
        source,
        _WASI_JS_BUILDER,
        _COMPONENTIZE_JS_LOCK,
        *sorted(REPO_ROOT.glob("abi/wit/*.wit")),
    ):
        digest.update(path.read_bytes())
    target = BUILD_CACHE_DIR / f"{source.stem}-wasi-js-{digest.hexdigest()[:16]}.wasm"
    if not target.exists():
        node = shutil.which("node")
        assert node is not None, "building JavaScript needs Node.js on PATH"
        partial = target.with_suffix(".partial.wasm")
        subprocess.run([node, str(_WASI_JS_BUILDER), str(source), str(partial)], check=True)
        partial.replace(target)
    return target
