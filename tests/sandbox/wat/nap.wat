;; poll_oneoff on a 20 ms clock and an fd_write on stdout: stdout is ready at
;; once, so only that event comes back; then the 20 ms clock alone. Writes
;; the two userdata it got (as decimal digits) to stdout.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func $clock (param $at i32) (param $userdata i64)
    (i64.store (local.get $at) (local.get $userdata))
    (i32.store8 (i32.add (local.get $at) (i32.const 8)) (i32.const 0))
    (i32.store (i32.add (local.get $at) (i32.const 16)) (i32.const 1))
    (i64.store (i32.add (local.get $at) (i32.const 24)) (i64.const 20000000)))
  (func (export "_start")
    ;; first poll: clock (userdata 1) + fd_write on fd 1 (userdata 2)
    (call $clock (i32.const 0) (i64.const 1))
    (i64.store (i32.const 48) (i64.const 2))
    (i32.store8 (i32.const 56) (i32.const 2))
    (i32.store (i32.const 64) (i32.const 1))
    (drop (call $poll_oneoff (i32.const 0) (i32.const 512) (i32.const 2) (i32.const 1000)))
    ;; output: digit of first event's userdata
    (i32.store8 (i32.const 2000) (i32.add (i32.const 48) (i32.load8_u (i32.const 512))))
    ;; second poll: the clock alone (userdata 3)
    (call $clock (i32.const 0) (i64.const 3))
    (drop (call $poll_oneoff (i32.const 0) (i32.const 512) (i32.const 1) (i32.const 1000)))
    (i32.store8 (i32.const 2001) (i32.add (i32.const 48) (i32.load8_u (i32.const 512))))
    (i32.store (i32.const 3000) (i32.const 2000))
    (i32.store (i32.const 3004) (i32.const 2))
    (drop (call $fd_write (i32.const 1) (i32.const 3000) (i32.const 1) (i32.const 3008)))))
