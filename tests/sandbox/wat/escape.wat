;; Tries to open /etc/passwd through every door WASI preview 1 has, then
;; reports the errno it got as its exit status.
(module
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept" (func $sock_accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "/etc/passwd")
  (func (export "_start")
    (local $errno i32)
    ;; a preopened directory 3 would be the way in: there is none
    (if (i32.eqz (call $fd_prestat_get (i32.const 3) (i32.const 0))) (then (call $proc_exit (i32.const 100))))
    (local.set $errno
      (call $path_open (i32.const 3) (i32.const 0) (i32.const 64) (i32.const 11)
                       (i32.const 0) (i64.const -1) (i64.const -1) (i32.const 0) (i32.const 16)))
    (if (i32.eqz (local.get $errno)) (then (call $proc_exit (i32.const 101))))
    (if (i32.eqz (call $sock_accept (i32.const 3) (i32.const 0) (i32.const 16))) (then (call $proc_exit (i32.const 102))))
    (call $proc_exit (local.get $errno))))
